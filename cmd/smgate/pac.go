package main

func runPac(e *env, args []string) int { return notYet(e, "runPac") }
