package main

// startProxy starts the forward proxy on ls.proxy (and the transparent
// listener on ls.transparent when set). Returns nil, nil when both are nil.
func startProxy(g *gateway, ls *listeners) (frontDoor, error) {
	if ls.proxy != nil || ls.transparent != nil {
		g.log.Warn().Msg("proxy is not built yet; its listener is open but unserved")
	}
	return nil, nil
}
