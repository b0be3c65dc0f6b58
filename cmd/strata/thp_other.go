//go:build !linux

package main

import (
	"log/slog"

	"github.com/stratadb/strata/conf"
)

// disableTHP does nothing outside Linux, which alone has transparent huge pages.
func disableTHP(*conf.Config, *slog.Logger) {}
