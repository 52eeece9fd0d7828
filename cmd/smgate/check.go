package main

func runCheck(e *env, args []string) int { return notYet(e, "runCheck") }
