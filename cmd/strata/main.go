// Command strata is Strata's one binary: the server and the tools around Redis's files.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "strata",
		Short:         "A Redis-compatible database server that keeps its data on disk",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCommand())
	root.AddCommand(inspectCommand())
	root.AddCommand(checkCommand())
	root.AddCommand(importCommand())
	root.AddCommand(exportCommand())
	root.AddCommand(migrateCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "strata:", err)
		os.Exit(1)
	}
}
