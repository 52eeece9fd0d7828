// Package configs holds the example gateway configuration and the default platform catalogue.
package configs

import _ "embed"

// Platforms is the built-in platform catalogue (platforms.toml), used when
// policy.platforms is empty.
//
//go:embed platforms.toml
var Platforms []byte
