package main

func runReport(e *env, args []string) int { return notYet(e, "runReport") }
