package main

import "github.com/spf13/cobra"

// addLocalCommands adds the commands that work on a local checkout.
func addLocalCommands(root *cobra.Command) {}
