//go:build !linux

package server

import "runtime"

// Strata runs on Linux; elsewhere INFO reports what the runtime knows.

func osName() string { return runtime.GOOS + " " + runtime.GOARCH }

func residentMemory() uint64 { return 0 }

func systemMemory() uint64 { return 0 }

func cpuTimes() (self, children cpuTime) { return cpuTime{}, cpuTime{} }
