package main

func runPasswd(e *env, args []string) int { return notYet(e, "runPasswd") }
