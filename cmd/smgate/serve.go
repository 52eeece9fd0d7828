package main

func runServe(e *env, args []string) int { return notYet(e, "runServe") }
