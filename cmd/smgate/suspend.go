package main

func runSuspend(e *env, args []string) int { return notYet(e, "runSuspend") }

func runReinstate(e *env, args []string) int { return notYet(e, "runReinstate") }
