package server

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// osName is uname's "sysname release machine", as INFO's os field.
func osName() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "Linux"
	}
	return utsString(u.Sysname[:]) + " " + utsString(u.Release[:]) + " " + utsString(u.Machine[:])
}

// utsString converts a NUL-terminated utsname field (int8 or uint8 by architecture).
func utsString[T int8 | uint8](a []T) string {
	b := make([]byte, 0, len(a))
	for _, c := range a {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// residentMemory is the process's resident set size in bytes (0 when unknown).
func residentMemory() uint64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := bytes.Fields(data)
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// systemMemory is the machine's physical memory in bytes.
func systemMemory() uint64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// cpuTimes is getrusage of the process and of its waited-for children.
func cpuTimes() (self, children cpuTime) {
	get := func(who int) cpuTime {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) != nil {
			return cpuTime{}
		}
		return cpuTime{sys: time.Duration(ru.Stime.Nano()), user: time.Duration(ru.Utime.Nano())}
	}
	return get(syscall.RUSAGE_SELF), get(syscall.RUSAGE_CHILDREN)
}
