// Package environments manages a workspace's environments: the Intune
// tenants restored reads from and restores into, with their Graph endpoint,
// credentials (client id and secret, the secret encrypted at rest with the
// environment id as associated data), the write switch and the application
// permissions last verified in the tenant.
//
// Every change is an owner's (access.WorkspaceManage), runs in one
// transaction with its audit entry, and never puts a secret in an error, a
// log line or an audit entry.
package environments

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/environment"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/audit"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/platform/apperr"
	"github.com/restored/restored/internal/platform/clock"
	"github.com/restored/restored/internal/platform/ids"
	"github.com/restored/restored/internal/platform/secrets"
	"github.com/restored/restored/internal/store"
)

// Kind is an environment's kind, environment.KindPROD or environment.KindTEST
// (the GraphQL EnvironmentKind enum binds to the same type).
type Kind = environment.Kind

// Service is the environments domain service.
type Service struct {
	Client *ent.Client
	// Secrets seals client secrets; nil when no key is configured, in which
	// case Create and RotateCredentials refuse to store credentials.
	Secrets *secrets.Box
	Audit   *audit.Recorder
	// Clock tells the time (nil: the system clock).
	Clock *clock.Clock
}

// CreateInput describes a new environment.
type CreateInput struct {
	WorkspaceID string
	// DisplayName is 1 to 200 characters, unique in the workspace (ignoring
	// case, archived environments included).
	DisplayName string
	Kind        Kind
	// AzureTenantID is the directory (tenant) id GUID or a domain of the
	// tenant; see validTenantID for simulated tenants.
	AzureTenantID string
	// ClientID is the application (client) id GUID ("sim-client" and the
	// like only with a loopback GraphBaseURL).
	ClientID     string
	ClientSecret string
	// GraphBaseURL defaults to DefaultGraphBaseURL.
	GraphBaseURL string
	// WriteEnabled allows restores into the environment; off by default, so
	// a new environment can be inventoried before anything can change it.
	WriteEnabled bool
}

// UpdateInput changes an environment; nil fields are left as they are.
// Tenant, Graph endpoint and credentials are not updatable here: a different
// tenant is a different environment, and credentials change only through
// RotateCredentials.
type UpdateInput struct {
	DisplayName  *string
	Kind         *Kind
	WriteEnabled *bool
}

// errNoKey is shown to the owner: without a key nothing can be done about it
// in the API, and "internal error" would hide what the operator must fix.
var errNoKey = apperr.New(apperr.Internal, "the server has no secret key configured, so tenant credentials cannot be stored: the operator must set RESTORED_SECRET_KEY")

// Create adds an environment to a workspace with sealed credentials.
// Codes: UNAUTHENTICATED, FORBIDDEN (not an owner of in.WorkspaceID),
// BAD_USER_INPUT (with the field: displayName, kind, graphBaseUrl,
// azureTenantId, clientId, clientSecret; a taken name is a displayName
// error), INTERNAL (no secret key configured).
func (s *Service) Create(ctx context.Context, in CreateInput) (_ *ent.Environment, err error) {
	defer apperr.Wrap(&err, "environments.Create(%q)", in.DisplayName)
	if _, err := auth.Require(ctx, in.WorkspaceID, access.WorkspaceManage); err != nil {
		return nil, err
	}
	name, err := validDisplayName(in.DisplayName)
	if err != nil {
		return nil, err
	}
	kind, err := validKind(in.Kind)
	if err != nil {
		return nil, err
	}
	base, loopback, err := validGraphBaseURL(in.GraphBaseURL)
	if err != nil {
		return nil, err
	}
	tenant, err := validTenantID(in.AzureTenantID, loopback)
	if err != nil {
		return nil, err
	}
	clientID, err := validClientID(in.ClientID, loopback)
	if err != nil {
		return nil, err
	}
	if err := validClientSecret(in.ClientSecret); err != nil {
		return nil, err
	}
	if s.Secrets == nil {
		return nil, errNoKey
	}
	// The id is chosen here rather than by the database default because it
	// is the associated data of the sealed secret: the row is inserted
	// complete, and there is never a row whose credentials are half set.
	id := ids.New(ids.Environment)
	sealed, err := s.Secrets.Seal([]byte(in.ClientSecret), []byte(id))
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var env *ent.Environment
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) (err error) {
		if err := nameFree(ctx, tx, in.WorkspaceID, name, ""); err != nil {
			return err
		}
		env, err = tx.Environment.Create().
			SetID(id).
			SetWorkspaceID(in.WorkspaceID).
			SetDisplayName(name).
			SetKind(kind).
			SetAzureTenantID(tenant).
			SetGraphBaseURL(base).
			SetClientID(clientID).
			SetClientSecretEncrypted(sealed).
			SetCredentialsSetAt(now).
			SetWriteEnabled(in.WriteEnabled).
			Save(ctx)
		if err != nil {
			return err
		}
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: in.WorkspaceID, EnvironmentID: env.ID, Action: "environment.create",
			ObjectType: "Environment", ObjectID: env.ID,
			Metadata: map[string]any{
				"id": env.ID, "name": env.DisplayName, "kind": string(env.Kind), "tenant": env.AzureTenantID,
				"graphBaseUrl": env.GraphBaseURL, "writeEnabled": env.WriteEnabled,
			},
		})
		return err
	})
	if err != nil {
		return nil, s.nameConflict(ctx, err, in.WorkspaceID, name, "")
	}
	s.Audit.Announce(ctx, entry)
	return env, nil
}

// Update changes an environment's display name, kind or write switch.
// Nothing changed is not an error and records nothing. Codes:
// UNAUTHENTICATED, NOT_FOUND, FORBIDDEN, BAD_USER_INPUT (displayName, kind),
// INVALID_TRANSITION (archived).
func (s *Service) Update(ctx context.Context, id string, in UpdateInput) (_ *ent.Environment, err error) {
	defer apperr.Wrap(&err, "environments.Update(%s)", id)
	env, err := s.manageable(ctx, id)
	if err != nil {
		return nil, err
	}
	if env.ArchivedAt != nil {
		return nil, archived(env) // checked again on the locked row below
	}
	var name string
	if in.DisplayName != nil {
		if name, err = validDisplayName(*in.DisplayName); err != nil {
			return nil, err
		}
	}
	var kind Kind
	if in.Kind != nil {
		if kind, err = validKind(*in.Kind); err != nil {
			return nil, err
		}
	}
	workspaceID := env.WorkspaceID
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		cur, err := lockEnvironment(ctx, tx, id)
		if err != nil {
			return err
		}
		var changed []string
		from, to := map[string]any{}, map[string]any{}
		upd := tx.Environment.UpdateOneID(id)
		if in.DisplayName != nil && name != cur.DisplayName {
			if err := nameFree(ctx, tx, cur.WorkspaceID, name, id); err != nil {
				return err
			}
			upd.SetDisplayName(name)
			changed = append(changed, "displayName")
			from["displayName"], to["displayName"] = cur.DisplayName, name
		}
		if in.Kind != nil && kind != cur.Kind {
			upd.SetKind(kind)
			changed = append(changed, "kind")
			from["kind"], to["kind"] = string(cur.Kind), string(kind)
		}
		if in.WriteEnabled != nil && *in.WriteEnabled != cur.WriteEnabled {
			upd.SetWriteEnabled(*in.WriteEnabled)
			changed = append(changed, "writeEnabled")
			from["writeEnabled"], to["writeEnabled"] = cur.WriteEnabled, *in.WriteEnabled
		}
		if len(changed) == 0 {
			env = cur
			return nil
		}
		if env, err = upd.Save(ctx); err != nil {
			return err
		}
		// None of these fields is sensitive, so the entry keeps old and
		// new values: "who switched writes on for production" must be
		// answerable from the audit log alone.
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: env.WorkspaceID, EnvironmentID: env.ID, Action: "environment.update",
			ObjectType: "Environment", ObjectID: env.ID,
			Metadata: map[string]any{"changed": changed, "from": from, "to": to},
		})
		return err
	})
	if err != nil {
		return nil, s.nameConflict(ctx, err, workspaceID, name, id)
	}
	s.Audit.Announce(ctx, entry)
	return env, nil
}

// RotateCredentials replaces an environment's client id and secret. The
// granted permissions are cleared: they belonged to the old app registration
// and must be verified again before anything relies on them. Codes:
// UNAUTHENTICATED, NOT_FOUND, FORBIDDEN, BAD_USER_INPUT (clientId,
// clientSecret), INVALID_TRANSITION (archived), INTERNAL (no secret key).
func (s *Service) RotateCredentials(ctx context.Context, id, clientID, clientSecret string) (_ *ent.Environment, err error) {
	defer apperr.Wrap(&err, "environments.RotateCredentials(%s)", id)
	env, err := s.manageable(ctx, id)
	if err != nil {
		return nil, err
	}
	if env.ArchivedAt != nil {
		return nil, archived(env)
	}
	// No service method changes the Graph base URL after creation, so the
	// loaded row's is the one the transaction will see.
	_, loopback, err := validGraphBaseURL(env.GraphBaseURL)
	if err != nil {
		return nil, err
	}
	if clientID, err = validClientID(clientID, loopback); err != nil {
		return nil, err
	}
	if err := validClientSecret(clientSecret); err != nil {
		return nil, err
	}
	if s.Secrets == nil {
		return nil, errNoKey
	}
	sealed, err := s.Secrets.Seal([]byte(clientSecret), []byte(env.ID))
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		cur, err := lockEnvironment(ctx, tx, id)
		if err != nil {
			return err
		}
		env, err = tx.Environment.UpdateOneID(id).
			SetClientID(clientID).
			SetClientSecretEncrypted(sealed).
			SetCredentialsSetAt(now).
			ClearGrantedPermissions().
			ClearPermissionsCheckedAt().
			Save(ctx)
		if err != nil {
			return err
		}
		// Only masked client ids: the full id is part of the credentials.
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: env.WorkspaceID, EnvironmentID: env.ID, Action: "environment.rotate_credentials",
			ObjectType: "Environment", ObjectID: env.ID,
			Metadata: map[string]any{
				"clientId": MaskedClientID(env), "clientIdChanged": cur.ClientID != clientID,
				"permissionsCleared": len(cur.GrantedPermissions) > 0 || cur.PermissionsCheckedAt != nil,
			},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.Audit.Announce(ctx, entry)
	return env, nil
}

// Archive retires an environment. It stays readable (its backups and runs
// are evidence) but can no longer be updated or get new credentials, and
// writes are switched off so that nothing checking only the write switch
// could restore into it. Archiving twice returns the environment unchanged
// and records nothing. Codes: UNAUTHENTICATED, NOT_FOUND, FORBIDDEN.
func (s *Service) Archive(ctx context.Context, id string) (_ *ent.Environment, err error) {
	defer apperr.Wrap(&err, "environments.Archive(%s)", id)
	env, err := s.manageable(ctx, id)
	if err != nil {
		return nil, err
	}
	if env.ArchivedAt != nil {
		return env, nil
	}
	now := s.Clock.Now()
	var entry *ent.AuditLog
	err = store.WithTx(ctx, s.Client, func(tx *ent.Client) error {
		cur, err := tx.Environment.Query().Where(environment.ID(id), store.LockRows).Only(ctx)
		if err != nil {
			return err
		}
		if cur.ArchivedAt != nil {
			env = cur // archived concurrently: same outcome
			return nil
		}
		env, err = tx.Environment.UpdateOneID(id).SetArchivedAt(now).SetWriteEnabled(false).Save(ctx)
		if err != nil {
			return err
		}
		entry, err = s.Audit.Record(ctx, tx, audit.Entry{
			WorkspaceID: env.WorkspaceID, EnvironmentID: env.ID, Action: "environment.archive",
			ObjectType: "Environment", ObjectID: env.ID,
			Metadata: map[string]any{"name": env.DisplayName, "writeEnabledBefore": cur.WriteEnabled},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.Audit.Announce(ctx, entry)
	return env, nil
}

// RecordPermissions stores the application permissions found granted in the
// tenant by a check made at time at: sorted, without duplicates or blanks.
// It is called by the permission check (a job, already authorized when it
// was started), so it requires no viewer. A check made before the
// credentials last changed describes the old app registration: it is refused
// with INVALID_TRANSITION and must be run again. Archived environments
// accept it: it describes the tenant, not a change an owner makes. Codes:
// NOT_FOUND, INVALID_TRANSITION.
func (s *Service) RecordPermissions(ctx context.Context, id string, roles []string, at time.Time) (_ *ent.Environment, err error) {
	defer apperr.Wrap(&err, "environments.RecordPermissions(%s)", id)
	granted := make([]string, 0, len(roles))
	for _, r := range roles {
		if r = strings.TrimSpace(r); r != "" {
			granted = append(granted, r)
		}
	}
	slices.Sort(granted)
	granted = slices.Compact(granted)
	at = at.Truncate(time.Microsecond)
	env, err := s.Client.Environment.UpdateOneID(id).
		Where(environment.Or(environment.CredentialsSetAtIsNil(), environment.CredentialsSetAtLTE(at))).
		SetGrantedPermissions(granted).
		SetPermissionsCheckedAt(at).
		Save(ctx)
	if ent.IsNotFound(err) {
		exists, xerr := s.Client.Environment.Query().Where(environment.ID(id)).Exist(ctx)
		if xerr != nil {
			return nil, xerr
		}
		if !exists {
			return nil, apperr.New(apperr.NotFound, "no environment %q", id)
		}
		return nil, apperr.New(apperr.InvalidTransition, "the environment's credentials changed after this permission check: check its permissions again")
	}
	return env, err
}

// MaskedClientID returns the environment's client id shortened for display,
// e.g. "1234…abcd": enough to tell app registrations apart, never the whole
// id. Ids of 10 characters or fewer show only their last 2 ("…nt"), and ids
// of 4 or fewer nothing but "…".
func MaskedClientID(env *ent.Environment) string {
	r := []rune(env.ClientID)
	switch n := len(r); {
	case n == 0:
		return ""
	case n > 10:
		return string(r[:4]) + "…" + string(r[n-4:])
	case n > 4:
		return "…" + string(r[n-2:])
	default:
		return "…"
	}
}

// manageable loads environment id for an owner of its workspace. The viewer
// is checked first so that an anonymous caller learns nothing, not even
// whether the id exists.
func (s *Service) manageable(ctx context.Context, id string) (*ent.Environment, error) {
	if _, err := auth.RequireViewer(ctx); err != nil {
		return nil, err
	}
	env, err := s.Client.Environment.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no environment %q", id)
	}
	if err != nil {
		return nil, err
	}
	if _, err := auth.Require(ctx, env.WorkspaceID, access.WorkspaceManage); err != nil {
		return nil, err
	}
	return env, nil
}

// lockEnvironment reads environment id inside tx, locked until the end of
// the transaction, and refuses an archived one: checking archived_at on the
// locked row is what keeps a concurrent Archive from being undone by an
// Update or a rotation that read the row just before.
func lockEnvironment(ctx context.Context, tx *ent.Client, id string) (*ent.Environment, error) {
	env, err := tx.Environment.Query().Where(environment.ID(id), store.LockRows).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no environment %q", id)
	}
	if err != nil {
		return nil, err
	}
	if env.ArchivedAt != nil {
		return nil, archived(env)
	}
	return env, nil
}

// archived is the INVALID_TRANSITION of changing an archived environment.
func archived(env *ent.Environment) error {
	return apperr.New(apperr.InvalidTransition, "environment %q is archived: it can be read but no longer changed", env.DisplayName)
}

// nameFree returns a displayName error when another environment of the
// workspace (other than except) has name, ignoring case: two tenants called
// "Contoso" and "contoso" are an invitation to restore into the wrong one.
// The unique index (exact case) backs this check against concurrent creates.
func nameFree(ctx context.Context, tx *ent.Client, workspaceID, name, except string) error {
	q := tx.Environment.Query().Where(environment.WorkspaceID(workspaceID), environment.DisplayNameEqualFold(name))
	if except != "" {
		q = q.Where(environment.IDNEQ(except))
	}
	taken, err := q.Exist(ctx)
	if err != nil {
		return err
	}
	if taken {
		return nameTaken(name)
	}
	return nil
}

func nameTaken(name string) error {
	return apperr.Invalid("displayName", "an environment named %q already exists in this workspace (archived environments keep their names); choose another name", name)
}

// nameConflict turns the unique index violation of a concurrent create or
// rename with the same name into the same displayName error nameFree gives;
// any other error is returned as it is.
func (s *Service) nameConflict(ctx context.Context, err error, workspaceID, name, except string) error {
	if !ent.IsConstraintError(err) || name == "" || !utf8.ValidString(name) {
		return err
	}
	q := s.Client.Environment.Query().Where(environment.WorkspaceID(workspaceID), environment.DisplayName(name))
	if except != "" {
		q = q.Where(environment.IDNEQ(except))
	}
	if taken, qerr := q.Exist(ctx); qerr == nil && taken {
		return nameTaken(name)
	}
	return err
}
