//go:build !linux

package kustomize

import (
	"os"
	"syscall"
)

// workerProcAttr puts a worker in its own process group, so killing it kills
// what it started.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// selfExecutable is the running binary.
func selfExecutable() (string, error) { return os.Executable() }

// residentBytes is unknown outside Linux: the memory limit holds only there.
func residentBytes(int) int64 { return 0 }
