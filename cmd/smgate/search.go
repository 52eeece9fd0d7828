package main

func runLogsSearch(e *env, args []string) int { return notYet(e, "logs search") }
