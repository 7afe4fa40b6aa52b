package kustomize

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// workerProcAttr puts a worker in its own process group, so killing it kills
// what it started, and has Linux kill it if promobot dies first.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// selfExecutable is the running binary: /proc/self/exe, which still names it
// after a package upgrade replaced the file, so workers always run the same
// code as promobot (moby's reexec does the same).
func selfExecutable() (string, error) { return "/proc/self/exe", nil }

// residentBytes returns the resident set size of process pid, from
// /proc/<pid>/statm; 0 when it cannot be read.
func residentBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	fields := bytes.Fields(b)
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
