package environments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/secrets"
	"github.com/restored/restored/internal/store"
)

// ErrCredentialsUnreadable is wrapped by Rekey's error when a stored client
// secret does not open with the current key.
var ErrCredentialsUnreadable = errors.New("stored client secret does not open with the current key")

// maxNamed bounds how many unreadable environments Rekey's error names.
const maxNamed = 5

// Rekey re-encrypts the client secret of every environment, archived ones
// included (so that the old key can be destroyed), from the key of from to
// the key of to, and returns how many secrets it re-encrypted. It works in
// one transaction and first opens every secret: if any does not open with
// from, it writes nothing and returns an error wrapping
// ErrCredentialsUnreadable that names the environments (never a secret).
// Each workspace with re-encrypted secrets gets a "secret_key.rotate" audit
// entry with the count.
//
// Processes still running with the old key keep sealing new credentials
// with it, and can no longer open the re-encrypted ones: run Rekey while
// restored is stopped, then restart it with the new key.
func Rekey(ctx context.Context, client *ent.Client, rec *audit.Recorder, from, to *secrets.Box) (_ int, err error) {
	defer apperr.Wrap(&err, "environments.Rekey")
	var n int
	var entries []*ent.AuditLog
	err = store.WithTx(ctx, client, func(tx *ent.Client) error {
		envs, err := tx.Environment.Query().
			Where(environment.ClientSecretEncryptedNotNil(), store.LockRows).
			Order(environment.ByID()).
			All(ctx)
		if err != nil {
			return err
		}
		resealed := make([][]byte, len(envs))
		var unreadable []string
		alreadyNew := 0
		for i, env := range envs {
			if len(env.ClientSecretEncrypted) == 0 {
				continue
			}
			secret, err := from.Open(env.ClientSecretEncrypted, []byte(env.ID))
			if err != nil {
				unreadable = append(unreadable, fmt.Sprintf("%q (%s)", env.DisplayName, env.ID))
				if _, err := to.Open(env.ClientSecretEncrypted, []byte(env.ID)); err == nil {
					alreadyNew++
				}
				continue
			}
			if resealed[i], err = to.Seal(secret, []byte(env.ID)); err != nil {
				return err
			}
		}
		if len(unreadable) > 0 {
			return unreadableError(unreadable, alreadyNew)
		}
		perWorkspace := map[string]int{}
		for i, env := range envs {
			if resealed[i] == nil {
				continue
			}
			if err := tx.Environment.UpdateOneID(env.ID).SetClientSecretEncrypted(resealed[i]).Exec(ctx); err != nil {
				return err
			}
			perWorkspace[env.WorkspaceID]++
			n++
		}
		workspaces := make([]string, 0, len(perWorkspace))
		for ws := range perWorkspace {
			workspaces = append(workspaces, ws)
		}
		slices.Sort(workspaces)
		for _, ws := range workspaces {
			entry, err := rec.Record(ctx, tx, audit.Entry{
				WorkspaceID: ws, Action: "secret_key.rotate", ObjectType: "Workspace", ObjectID: ws,
				Metadata: map[string]any{"environments": perWorkspace[ws]},
			})
			if err != nil {
				return err
			}
			entries = append(entries, entry)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		rec.Announce(ctx, e)
	}
	return n, nil
}

// unreadableError names the environments whose secret did not open and
// suggests the likely cause.
func unreadableError(names []string, alreadyNew int) error {
	shown := names
	if len(shown) > maxNamed {
		shown = shown[:maxNamed]
	}
	msg := fmt.Sprintf("%d environment(s): %s", len(names), strings.Join(shown, ", "))
	if len(names) > len(shown) {
		msg += fmt.Sprintf(" and %d more", len(names)-len(shown))
	}
	hint := "is the current key (RESTORED_SECRET_KEY or --secret-key) the one restored runs with?"
	if alreadyNew == len(names) {
		hint = "they already open with the new key: was the rotation done before? Then only RESTORED_SECRET_KEY still needs to be set to the new key"
	} else if alreadyNew > 0 {
		hint = fmt.Sprintf("%d of them already open with the new key; the others with neither key", alreadyNew)
	}
	return fmt.Errorf("%w: %s; nothing was changed (%s)", ErrCredentialsUnreadable, msg, hint)
}
