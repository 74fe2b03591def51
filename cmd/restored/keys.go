package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/environments"
	"github.com/restored/restored/internal/platform/config"
	"github.com/restored/restored/internal/platform/secrets"
)

// keys runs `restored keys <command>`; rotate is the only one.
func keys(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprint(stderr, usage)
		return errors.New(`unknown keys command: want "keys rotate --new-key HEX"`)
	}
	return keysRotate(ctx, args[1:], getenv, stdout, stderr)
}

// keysRotate re-encrypts every stored client secret from the current key
// (--secret-key / RESTORED_SECRET_KEY) to --new-key, all or nothing (see
// environments.Rekey). The new key may also come from RESTORED_NEW_SECRET_KEY,
// which keeps it out of the process list and the shell history.
//
// The key is not switched here: restored reads it from its configuration,
// so the operator sets RESTORED_SECRET_KEY to the new key and restarts. Run
// it with restored stopped: a running process keeps the old key, cannot
// open the re-encrypted secrets, and would seal new ones with the old key.
func keysRotate(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	var newHex string
	cfg, _, err := config.Parse("keys rotate", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&newHex, "new-key", getenv("RESTORED_NEW_SECRET_KEY"), "the new hex-encoded 32-byte key (or RESTORED_NEW_SECRET_KEY)")
	})
	if err != nil {
		return err
	}
	if cfg.SecretKey == nil {
		return errors.New("keys rotate needs the current key: set RESTORED_SECRET_KEY or --secret-key (a --dev key is in <data-dir>/secret.key)")
	}
	newHex = strings.TrimSpace(newHex)
	if newHex == "" {
		return errors.New("keys rotate needs --new-key: a new hex-encoded 32-byte key, e.g. from `openssl rand -hex 32`")
	}
	newKey, err := hex.DecodeString(newHex)
	if err != nil || len(newKey) != 32 {
		return errors.New("--new-key must be 64 hex characters (32 bytes)")
	}
	if bytes.Equal(newKey, cfg.SecretKey) {
		return errors.New("--new-key is the current key: nothing to rotate")
	}
	from, err := secrets.New(cfg.SecretKey)
	if err != nil {
		return err
	}
	to, err := secrets.New(newKey)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// Rotation is no time to change the schema as a side effect: an
	// unmigrated database is reported, not migrated.
	pending, err := db.Pending(ctx)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("the database has %d pending migration(s): run `restored migrate` first", len(pending))
	}
	n, err := environments.Rekey(ctx, db.Client, &audit.Recorder{}, from, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-encrypted %d environment client secret(s) with the new key.\n", n)
	fmt.Fprintln(stdout, "Now set RESTORED_SECRET_KEY (or --secret-key) to the new key and restart every restored process (serve and worker): the old key no longer opens any stored secret.")
	return nil
}
