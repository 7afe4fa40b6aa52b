package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/promobot/promobot/internal/kustomize"
)

// addRenderFlags gives cmd the flags that bound every render it runs
// (--render-timeout, --render-max-memory, --render-max-objects), with
// kustomize.DefaultLimits as defaults, and applies them before cmd runs.
func addRenderFlags(cmd *cobra.Command) {
	def := kustomize.DefaultLimits()
	timeout := def.Timeout
	memory := resource.QuantityValue{Quantity: *resource.NewQuantity(def.MaxMemory, resource.BinarySI)}
	objects := def.MaxObjects
	fl := cmd.Flags()
	fl.DurationVar(&timeout, "render-timeout", timeout, "how long one render (kustomize build) may take before it is refused")
	fl.Var(&memory, "render-max-memory", "how much memory one render may use before it is refused (e.g. 512Mi, 2Gi)")
	fl.IntVar(&objects, "render-max-objects", objects, "how many objects one render may hold before it is refused")
	next := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		lim, err := renderLimits(timeout, memory.Quantity, objects)
		if err != nil {
			return err
		}
		kustomize.SetLimits(lim)
		if next != nil {
			return next(cmd, args)
		}
		return nil
	}
}

// renderLimits checks the render flags' values and turns them into limits.
func renderLimits(timeout time.Duration, memory resource.Quantity, objects int) (kustomize.Limits, error) {
	switch {
	case timeout <= 0:
		return kustomize.Limits{}, fmt.Errorf("--render-timeout %s: must be positive", timeout)
	case memory.Sign() <= 0:
		return kustomize.Limits{}, fmt.Errorf("--render-max-memory %s: must be positive", memory.String())
	case objects <= 0:
		return kustomize.Limits{}, fmt.Errorf("--render-max-objects %d: must be positive", objects)
	}
	return kustomize.Limits{Timeout: timeout, MaxMemory: memory.Value(), MaxObjects: objects}, nil
}
