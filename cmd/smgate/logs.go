package main

func runLogs(e *env, args []string) int { return notYet(e, "runLogs") }
