package main

import (
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/stratadb/strata/conf"
)

// disableTHP turns transparent huge pages off for the process (disable-thp), as Redis does at
// start. The flag covers memory mapped from now on, so it runs before the data is opened.
func disableTHP(cfg *conf.Config, log *slog.Logger) {
	if !cfg.DisableTHP {
		return
	}
	if err := unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0); err != nil {
		log.Warn("disable-thp: prctl(PR_SET_THP_DISABLE) failed", "err", err)
	}
}
