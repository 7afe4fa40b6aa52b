package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/promobot/promobot/internal/checkout"
)

// addCheckoutFlags gives cmd the flags that bound every repository checkout
// it makes (--checkout-max-bytes, --checkout-max-entries), with the checkout
// package's defaults, and applies them before cmd runs. A repository over a
// bound is refused whole: nothing of it is rendered or applied.
func addCheckoutFlags(cmd *cobra.Command) {
	bytes := resource.QuantityValue{Quantity: *resource.NewQuantity(checkout.DefaultMaxBytes, resource.BinarySI)}
	entries := checkout.DefaultMaxEntries
	fl := cmd.Flags()
	fl.Var(&bytes, "checkout-max-bytes", "how large one repository checkout may be, in total file size, before it is refused (e.g. 512Mi, 2Gi); a pull request's diff holds two")
	fl.IntVar(&entries, "checkout-max-entries", entries, "how many files, directories and links one repository checkout may hold before it is refused")
	next := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case bytes.Sign() <= 0:
			return fmt.Errorf("--checkout-max-bytes %s: must be positive", bytes.String())
		case entries <= 0:
			return fmt.Errorf("--checkout-max-entries %d: must be positive", entries)
		}
		checkout.SetLimits(checkout.Options{MaxBytes: bytes.Value(), MaxEntries: entries})
		if next != nil {
			return next(cmd, args)
		}
		return nil
	}
}
