package restore

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
	"github.com/restored/restored/internal/domain/results"
)

var readinessNow = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

const (
	guidanceExecute = "Everything is in place: execute when ready."
	guidanceConfirm = "Checks and preview are current: review the preview and confirm (step 5)."
)

// readyRun is a run every gate of which holds for its workspace's owner:
// scoped, checked and previewed for its current scope, recently, without
// blockers, confirmed with dry run off.
func readyRun() *ent.RestoreRun {
	checked, previewed, confirmed := readinessNow.Add(-20*time.Minute), readinessNow.Add(-10*time.Minute), readinessNow.Add(-time.Minute)
	r := &ent.RestoreRun{
		ID: "run1", WorkspaceID: "ws1", EnvironmentID: "env1", BackupSetID: "set1",
		Status: restorerun.StatusPREVIEWED, ScopeMode: restorerun.ScopeModeALL,
		GroupMapping: map[string]string{"g1": "t1"},
		TenantLabel:  "Contoso",
		CheckSummary: &results.CheckSummary{Blocking: 0, Warning: 2, Safe: 5, Items: 7},
		CheckResults: []results.Check{
			{Code: CheckReadPermission, Severity: SeverityWarning, Message: "Inventory and restore may be partial."},
		},
		CheckedAt:    &checked,
		PreviewedAt:  &previewed,
		DryRun:       false,
		Acknowledged: true,
		ConfirmedAt:  &confirmed,
		ConfirmedBy:  &ownerUser.ID,
	}
	fp := scopeFingerprint(r)
	r.ScopeFingerprint, r.CheckFingerprint, r.PreviewFingerprint = fp, fp, fp
	reconfirm(r)
	return r
}

// liveEnv is readyRun's target as it is now: writable, its credentials
// set before the checks ran.
func liveEnv() *ent.Environment {
	set := readinessNow.Add(-48 * time.Hour)
	return &ent.Environment{ID: "env1", DisplayName: "Contoso", WriteEnabled: true,
		CredentialsSetAt: &set, ClientSecretEncrypted: []byte("sealed")}
}

// ownerUser confirmed readyRun.
var ownerUser = &ent.User{ID: "user-owner"}

// reconfirm binds run's confirmation to its present scope, checks and
// preview, as Confirm would.
func reconfirm(r *ent.RestoreRun) { r.ConfirmedFingerprint = confirmationFingerprint(r) }

func TestReadiness(t *testing.T) {
	owner := &auth.Viewer{User: ownerUser, Role: access.Owner, WorkspaceID: "ws1"}
	secondOwner := &auth.Viewer{User: &ent.User{ID: "user-owner2"}, Role: access.Owner, WorkspaceID: "ws1"}
	operator := &auth.Viewer{User: &ent.User{ID: "user-operator"}, Role: access.Operator, WorkspaceID: "ws1"}
	auditor := &auth.Viewer{Role: access.Auditor, WorkspaceID: "ws1"}
	otherOwner := &auth.Viewer{Role: access.Owner, WorkspaceID: "ws2"}
	at := func(d time.Duration) *time.Time { t := readinessNow.Add(d); return &t }

	tests := []struct {
		name   string
		mutate func(r *ent.RestoreRun)
		viewer *auth.Viewer
		// want
		proceed, execute bool
		open             []string
		guidance         string
		// gateMsg: substrings the message of each named gate must contain.
		gateMsg map[string]string
	}{
		{
			name:     "ready",
			viewer:   owner,
			proceed:  true,
			execute:  true,
			guidance: guidanceExecute,
		},
		{
			name: "draft: nothing defined yet",
			mutate: func(r *ent.RestoreRun) {
				*r = ent.RestoreRun{ID: "run1", WorkspaceID: "ws1", EnvironmentID: "env1", BackupSetID: "set1",
					Status: restorerun.StatusDRAFT, ScopeMode: restorerun.ScopeModeALL, DryRun: true, TenantLabel: "Contoso"}
			},
			viewer: owner,
			open: []string{GateScopeDefined, GateChecksCurrent, GatePreviewCurrent, GateNoBlockers, GateTechnicallyAble,
				GateDryRunOff, GateAcknowledged, GateTenantConfirmed},
			guidance: "Define the scope (step 2).",
			gateMsg: map[string]string{
				GateChecksCurrent: "not run yet", GatePreviewCurrent: "not run yet",
				GateNoBlockers: "Unknown until", GateTechnicallyAble: "Unknown until",
				GateTenantConfirmed: `"Contoso"`,
			},
		},
		{
			name: "draft with a leftover fingerprint is still not scoped",
			mutate: func(r *ent.RestoreRun) {
				r.Status = restorerun.StatusDRAFT
			},
			viewer:   owner,
			open:     []string{GateScopeDefined},
			guidance: "Define the scope (step 2).",
		},
		{
			name: "scoped without checks",
			mutate: func(r *ent.RestoreRun) {
				r.Status = restorerun.StatusSCOPED
				r.CheckFingerprint, r.CheckedAt, r.CheckSummary, r.CheckResults = "", nil, nil, nil
				r.PreviewFingerprint, r.PreviewedAt = "", nil
				r.DryRun, r.Acknowledged, r.ConfirmedAt = true, false, nil
			},
			viewer: owner,
			open: []string{GateChecksCurrent, GatePreviewCurrent, GateNoBlockers, GateTechnicallyAble,
				GateDryRunOff, GateAcknowledged, GateTenantConfirmed},
			guidance: "Run the safety checks (step 3): not run yet.",
			gateMsg:  map[string]string{GatePreviewCurrent: "not run yet"},
		},
		{
			name:     "checks for another scope",
			mutate:   func(r *ent.RestoreRun) { r.CheckFingerprint = "0123456789abcdef" },
			viewer:   owner,
			open:     []string{GateChecksCurrent, GateNoBlockers, GateTechnicallyAble, GateAcknowledged, GateTenantConfirmed},
			guidance: "Run the safety checks (step 3): stale: the scope changed after they ran.",
			gateMsg:  map[string]string{GateNoBlockers: "Unknown until", GateTechnicallyAble: "Unknown until"},
		},
		{
			// Staleness is judged against the scope as it is now, not the
			// stored scope fingerprint.
			name:     "scope changed after checks and preview",
			mutate:   func(r *ent.RestoreRun) { r.GroupMapping["g2"] = "t2" },
			viewer:   owner,
			open:     []string{GateChecksCurrent, GatePreviewCurrent, GateNoBlockers, GateTechnicallyAble, GateAcknowledged, GateTenantConfirmed},
			guidance: "Run the safety checks (step 3): stale: the scope changed after they ran.",
			gateMsg:  map[string]string{GatePreviewCurrent: "scope changed"},
		},
		{
			name:     "checks older than MaxResultAge",
			mutate:   func(r *ent.RestoreRun) { r.CheckedAt = at(-time.Hour - time.Second) },
			viewer:   owner,
			open:     []string{GateChecksCurrent, GateNoBlockers, GateTechnicallyAble, GateAcknowledged, GateTenantConfirmed},
			guidance: "Run the safety checks (step 3): stale: older than 1h0m0s.",
		},
		{
			name:     "checks exactly MaxResultAge old are current",
			mutate:   func(r *ent.RestoreRun) { r.CheckedAt = at(-time.Hour); reconfirm(r) },
			viewer:   owner,
			proceed:  true,
			execute:  true,
			guidance: guidanceExecute,
		},
		{
			name:     "checks without a fingerprint",
			mutate:   func(r *ent.RestoreRun) { r.CheckFingerprint = "" },
			viewer:   owner,
			open:     []string{GateChecksCurrent, GateNoBlockers, GateTechnicallyAble, GateAcknowledged, GateTenantConfirmed},
			guidance: "Run the safety checks (step 3): not run yet.",
		},
		{
			name:     "no preview",
			mutate:   func(r *ent.RestoreRun) { r.PreviewFingerprint, r.PreviewedAt = "", nil },
			viewer:   owner,
			open:     []string{GatePreviewCurrent, GateAcknowledged, GateTenantConfirmed},
			guidance: "Generate the preview (step 4): not run yet.",
		},
		{
			name:     "preview for another scope",
			mutate:   func(r *ent.RestoreRun) { r.PreviewFingerprint = "0123456789abcdef" },
			viewer:   owner,
			open:     []string{GatePreviewCurrent, GateAcknowledged, GateTenantConfirmed},
			guidance: "Generate the preview (step 4): stale: the scope changed after they ran.",
		},
		{
			name:     "preview older than MaxResultAge",
			mutate:   func(r *ent.RestoreRun) { r.PreviewedAt = at(-2 * time.Hour) },
			viewer:   owner,
			open:     []string{GatePreviewCurrent, GateAcknowledged, GateTenantConfirmed},
			guidance: "Generate the preview (step 4): stale: older than 1h0m0s.",
		},
		{
			name:     "one blocking check",
			mutate:   func(r *ent.RestoreRun) { r.CheckSummary.Blocking = 1 },
			viewer:   owner,
			open:     []string{GateNoBlockers},
			guidance: "1 check blocks the restore: resolve it (for example map the groups) and check again.",
		},
		{
			name:     "blocking checks",
			mutate:   func(r *ent.RestoreRun) { r.CheckSummary.Blocking = 3 },
			viewer:   owner,
			open:     []string{GateNoBlockers},
			guidance: "3 checks block the restore: resolve them (for example map the groups) and check again.",
		},
		{
			name: "technical blocker",
			mutate: func(r *ent.RestoreRun) {
				r.CheckResults = append(r.CheckResults, results.Check{Code: CheckWritesDisabled, Severity: SeverityBlocking,
					Message: "Writes are disabled for Contoso prod.", Technical: true})
			},
			viewer:   owner,
			open:     []string{GateTechnicallyAble},
			guidance: "The target cannot be written: Writes are disabled for Contoso prod.",
		},
		{
			name: "two technical blockers",
			mutate: func(r *ent.RestoreRun) {
				r.CheckResults = append(r.CheckResults,
					results.Check{Code: CheckWritesDisabled, Severity: SeverityBlocking, Message: "Writes are disabled.", Technical: true},
					results.Check{Code: CheckWritePermission, Severity: SeverityBlocking, Message: "The app cannot write.", Technical: true})
			},
			viewer:   owner,
			open:     []string{GateTechnicallyAble},
			guidance: "The target cannot be written: Writes are disabled. The app cannot write.",
		},
		{
			name: "technical warning and non-technical blocker at run level are no technical blockers",
			mutate: func(r *ent.RestoreRun) {
				r.CheckResults = append(r.CheckResults,
					results.Check{Code: "X", Severity: SeverityWarning, Message: "a warning", Technical: true},
					results.Check{Code: "Y", Severity: SeverityBlocking, Message: "not technical"})
			},
			viewer:   owner,
			proceed:  true,
			execute:  true,
			guidance: guidanceExecute,
		},
		{
			name:     "dry run on",
			mutate:   func(r *ent.RestoreRun) { r.DryRun = true },
			viewer:   owner,
			proceed:  true,
			open:     []string{GateDryRunOff, GateTenantConfirmed},
			guidance: guidanceConfirm,
		},
		{
			name:     "not acknowledged",
			mutate:   func(r *ent.RestoreRun) { r.Acknowledged = false },
			viewer:   owner,
			proceed:  true,
			open:     []string{GateAcknowledged, GateTenantConfirmed},
			guidance: guidanceConfirm,
		},
		{
			name:     "not confirmed",
			mutate:   func(r *ent.RestoreRun) { r.ConfirmedAt = nil },
			viewer:   owner,
			proceed:  true,
			open:     []string{GateTenantConfirmed},
			guidance: guidanceConfirm,
			gateMsg:  map[string]string{GateTenantConfirmed: `Type the tenant name "Contoso"`},
		},
		{
			name:     "operator before confirmation",
			mutate:   func(r *ent.RestoreRun) { r.DryRun, r.Acknowledged, r.ConfirmedAt = true, false, nil },
			viewer:   operator,
			proceed:  true,
			open:     []string{GateDryRunOff, GateAcknowledged, GateTenantConfirmed, GateExecuteCapability},
			guidance: guidanceConfirm,
		},
		{
			// Confirmed already: telling the operator to confirm would send
			// them round in circles; what is missing is an owner.
			name:     "operator of a confirmed run",
			viewer:   operator,
			proceed:  true,
			open:     []string{GateExecuteCapability, GateConfirmedByViewer},
			guidance: "Your role cannot execute restores; an owner must.",
		},
		{
			name:     "auditor",
			viewer:   auditor,
			open:     []string{GatePrepareCapability, GateExecuteCapability, GateConfirmedByViewer},
			guidance: "Your role can only read restore runs; an operator or an owner prepares them.",
		},
		{
			name:     "owner of another workspace",
			viewer:   otherOwner,
			open:     []string{GatePrepareCapability, GateExecuteCapability, GateConfirmedByViewer},
			guidance: "Your role can only read restore runs; an operator or an owner prepares them.",
		},
		{
			name:     "no viewer",
			viewer:   nil,
			open:     []string{GatePrepareCapability, GateExecuteCapability, GateConfirmedByViewer},
			guidance: "Your role can only read restore runs; an operator or an owner prepares them.",
		},
		{
			// Spec 011 step 5: the one who confirms is the one who executes.
			name:     "confirmed by another owner",
			viewer:   secondOwner,
			proceed:  true,
			open:     []string{GateConfirmedByViewer},
			guidance: "Another member confirmed this run: whoever executes it confirms it themselves (step 5).",
		},
		{
			name:     "confirmation without a fingerprint (given before it was bound)",
			mutate:   func(r *ent.RestoreRun) { r.ConfirmedFingerprint = "" },
			viewer:   owner,
			proceed:  true,
			open:     []string{GateAcknowledged, GateTenantConfirmed},
			guidance: guidanceConfirm,
			gateMsg:  map[string]string{GateTenantConfirmed: "confirm again", GateAcknowledged: "confirm again"},
		},
		{
			name: "checks run again after the confirmation",
			mutate: func(r *ent.RestoreRun) {
				r.CheckedAt = at(-30 * time.Second)
			},
			viewer:   owner,
			proceed:  true,
			open:     []string{GateAcknowledged, GateTenantConfirmed},
			guidance: guidanceConfirm,
		},
		{
			name: "preview generated again after the confirmation",
			mutate: func(r *ent.RestoreRun) {
				r.PreviewedAt = at(-30 * time.Second)
			},
			viewer:   owner,
			proceed:  true,
			open:     []string{GateAcknowledged, GateTenantConfirmed},
			guidance: guidanceConfirm,
		},
		{
			name:     "confirmer changed without a new confirmation",
			mutate:   func(r *ent.RestoreRun) { r.ConfirmedBy = &secondOwner.User.ID },
			viewer:   secondOwner,
			proceed:  true,
			open:     []string{GateAcknowledged, GateTenantConfirmed},
			guidance: guidanceConfirm,
		},
		{
			name: "preview expired: the confirmation expires with it",
			mutate: func(r *ent.RestoreRun) {
				r.PreviewedAt = at(-time.Hour - time.Minute)
				reconfirm(r)
			},
			viewer:   owner,
			open:     []string{GatePreviewCurrent, GateAcknowledged, GateTenantConfirmed},
			guidance: "Generate the preview (step 4): stale: older than 1h0m0s.",
		},
		{
			name:     "live target: writable",
			mutate:   func(r *ent.RestoreRun) { r.Edges.Environment = liveEnv() },
			viewer:   owner,
			proceed:  true,
			execute:  true,
			guidance: guidanceExecute,
		},
		{
			name: "live target: writes turned off after the checks",
			mutate: func(r *ent.RestoreRun) {
				r.Edges.Environment = liveEnv()
				r.Edges.Environment.WriteEnabled = false
			},
			viewer:   owner,
			open:     []string{GateTechnicallyAble},
			guidance: "The target cannot be written: Writes are disabled for Contoso: enable them on the environment to execute.",
		},
		{
			name: "live target: writes off, seen by the checks too, said once",
			mutate: func(r *ent.RestoreRun) {
				r.Edges.Environment = liveEnv()
				r.Edges.Environment.WriteEnabled = false
				r.CheckResults = append(r.CheckResults, results.Check{Code: CheckWritesDisabled, Severity: SeverityBlocking,
					Message: "Writes are disabled for Contoso: enable them on the environment to execute.", Technical: true})
			},
			viewer:   owner,
			open:     []string{GateTechnicallyAble},
			guidance: "The target cannot be written: Writes are disabled for Contoso: enable them on the environment to execute.",
		},
		{
			name: "live target: archived",
			mutate: func(r *ent.RestoreRun) {
				r.Edges.Environment = liveEnv()
				r.Edges.Environment.ArchivedAt, r.Edges.Environment.WriteEnabled = at(-time.Second), false
			},
			viewer:  owner,
			open:    []string{GateTechnicallyAble},
			gateMsg: map[string]string{GateTechnicallyAble: "is archived"},
			guidance: "The target cannot be written: The environment Contoso is archived. " +
				"Writes are disabled for Contoso: enable them on the environment to execute.",
		},
		{
			name: "live target: credentials replaced after the checks",
			mutate: func(r *ent.RestoreRun) {
				r.Edges.Environment = liveEnv()
				r.Edges.Environment.CredentialsSetAt = at(-5 * time.Minute)
			},
			viewer:   owner,
			open:     []string{GateTechnicallyAble},
			guidance: "The target cannot be written: The environment's credentials changed after the safety checks ran: run them again.",
		},
		{
			name: "live target: credentials set before the checks",
			mutate: func(r *ent.RestoreRun) {
				r.Edges.Environment = liveEnv()
				r.Edges.Environment.CredentialsSetAt = r.CheckedAt
			},
			viewer:   owner,
			proceed:  true,
			execute:  true,
			guidance: guidanceExecute,
		},
		{
			name: "live target: credentials removed",
			mutate: func(r *ent.RestoreRun) {
				r.Edges.Environment = liveEnv()
				r.Edges.Environment.ClientSecretEncrypted = nil
			},
			viewer:   owner,
			open:     []string{GateTechnicallyAble},
			guidance: "The target cannot be written: The environment has no credentials: set them and run the checks again.",
		},
		{
			name: "live target: write permission lost",
			mutate: func(r *ent.RestoreRun) {
				r.Edges.Environment = liveEnv()
				r.Edges.Environment.PermissionsCheckedAt = at(-time.Minute)
			},
			viewer:  owner,
			open:    []string{GateTechnicallyAble},
			gateMsg: map[string]string{GateTechnicallyAble: "The app cannot write"},
			guidance: "The target cannot be written: The app cannot write: it lacks DeviceManagementConfiguration.ReadWrite.All, " +
				"DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementRBAC.ReadWrite.All, DeviceManagementApps.ReadWrite.All, Group.Read.All.",
		},
		{
			// The live state is known even when the checks are not current.
			name: "live target: archived, checks stale",
			mutate: func(r *ent.RestoreRun) {
				r.Edges.Environment = liveEnv()
				r.Edges.Environment.ArchivedAt = at(-time.Second)
				r.CheckFingerprint = ""
			},
			viewer:   owner,
			open:     []string{GateChecksCurrent, GateNoBlockers, GateTechnicallyAble, GateAcknowledged, GateTenantConfirmed},
			guidance: "Run the safety checks (step 3): not run yet.",
			gateMsg:  map[string]string{GateTechnicallyAble: "The environment Contoso is archived."},
		},
		{
			name:     "queued",
			mutate:   func(r *ent.RestoreRun) { r.Status = restorerun.StatusQUEUED },
			viewer:   owner,
			open:     []string{GateRunEditable},
			guidance: "The run is QUEUED; it can no longer be confirmed or executed.",
		},
		{
			name:     "completed",
			mutate:   func(r *ent.RestoreRun) { r.Status = restorerun.StatusCOMPLETED },
			viewer:   owner,
			open:     []string{GateRunEditable},
			guidance: "The run is COMPLETED; it can no longer be confirmed or executed.",
		},
		{
			name: "several open: guidance is the first",
			mutate: func(r *ent.RestoreRun) {
				r.CheckSummary.Blocking = 2
				r.PreviewedAt = at(-3 * time.Hour)
				r.DryRun = true
			},
			viewer:   operator,
			open:     []string{GatePreviewCurrent, GateNoBlockers, GateDryRunOff, GateAcknowledged, GateTenantConfirmed, GateExecuteCapability},
			guidance: "Generate the preview (step 4): stale: older than 1h0m0s.",
		},
	}
	s := &Service{MaxResultAge: time.Hour}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := readyRun()
			if tt.mutate != nil {
				tt.mutate(run)
			}
			got := s.Readiness(run, tt.viewer, readinessNow)
			if got.CanProceedToConfirmation != tt.proceed || got.CanExecute != tt.execute {
				t.Errorf("CanProceedToConfirmation, CanExecute = %v, %v; want %v, %v",
					got.CanProceedToConfirmation, got.CanExecute, tt.proceed, tt.execute)
			}
			if diff := cmp.Diff(tt.open, got.Open()); diff != "" {
				t.Errorf("open gates (-want +got):\n%s", diff)
			}
			if got.Guidance != tt.guidance {
				t.Errorf("Guidance = %q, want %q", got.Guidance, tt.guidance)
			}
			var codes []string
			for _, g := range got.Gates {
				codes = append(codes, g.Code)
				if g.Message == "" {
					t.Errorf("gate %s has no message", g.Code)
				}
			}
			wantCodes := []string{GateRunEditable, GatePrepareCapability, GateScopeDefined, GateChecksCurrent, GatePreviewCurrent, GateNoBlockers,
				GateTechnicallyAble, GateDryRunOff, GateAcknowledged, GateTenantConfirmed, GateExecuteCapability, GateConfirmedByViewer}
			if diff := cmp.Diff(wantCodes, codes); diff != "" {
				t.Errorf("gates (-want +got):\n%s", diff)
			}
			for code, want := range tt.gateMsg {
				if msg := gateMessage(got, code); !strings.Contains(msg, want) {
					t.Errorf("gate %s message %q does not contain %q", code, msg, want)
				}
			}
		})
	}
}

func TestReadinessOpenFilter(t *testing.T) {
	run := readyRun()
	run.DryRun = true
	run.CheckSummary.Blocking = 1
	r := (&Service{MaxResultAge: time.Hour}).Readiness(run, &auth.Viewer{Role: access.Operator, WorkspaceID: "ws1"}, readinessNow)
	tests := []struct {
		name  string
		codes []string
		want  []string
	}{
		{"all", nil, []string{GateNoBlockers, GateDryRunOff, GateTenantConfirmed, GateExecuteCapability}},
		{"confirmation gates", confirmationGates, []string{GateNoBlockers}},
		{"in gate order whatever the argument order", []string{GateExecuteCapability, GateDryRunOff}, []string{GateDryRunOff, GateExecuteCapability}},
		{"satisfied gates only", []string{GateScopeDefined, GateChecksCurrent}, nil},
		{"unknown code", []string{"NOPE"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, r.Open(tt.codes...)); diff != "" {
				t.Errorf("Open(%v) (-want +got):\n%s", tt.codes, diff)
			}
		})
	}
}

// TestReadinessDefaultMaxAge: a zero MaxResultAge means one hour.
func TestReadinessDefaultMaxAge(t *testing.T) {
	owner := &auth.Viewer{User: ownerUser, Role: access.Owner, WorkspaceID: "ws1"}
	tests := []struct {
		name string
		age  time.Duration
		want []string
	}{
		{"59m", 59 * time.Minute, nil},
		{"61m", 61 * time.Minute, []string{GateChecksCurrent, GateNoBlockers, GateTechnicallyAble, GateAcknowledged, GateTenantConfirmed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := readyRun()
			checked := readinessNow.Add(-tt.age)
			run.CheckedAt = &checked
			reconfirm(run)
			got := (&Service{}).Readiness(run, owner, readinessNow)
			if diff := cmp.Diff(tt.want, got.Open()); diff != "" {
				t.Errorf("open gates (-want +got):\n%s", diff)
			}
		})
	}
}

func gateMessage(r Readiness, code string) string {
	for _, g := range r.Gates {
		if g.Code == code {
			return g.Message
		}
	}
	return ""
}

// TestReadinessStoredTechnicalResults: run-level results go through a JSON
// column before Readiness reads them; a technical blocker must
// still be one, and a non-technical result must not become one.
func TestReadinessStoredTechnicalResults(t *testing.T) {
	checked := readinessNow.Add(-time.Hour)
	tests := []struct {
		name     string
		results  []result
		open     []string
		guidance string
	}{
		{
			name:     "missing write permission",
			results:  permissionResults(&ent.Environment{PermissionsCheckedAt: &checked}),
			open:     []string{GateTechnicallyAble},
			guidance: "The target cannot be written: The app cannot write: it lacks DeviceManagementConfiguration.ReadWrite.All, DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementRBAC.ReadWrite.All, DeviceManagementApps.ReadWrite.All, Group.Read.All.",
		},
		{
			name:     "permissions never verified",
			results:  permissionResults(&ent.Environment{}),
			guidance: guidanceExecute,
		},
		{
			name:     "non-technical blocking result",
			results:  []result{{CheckTargetUnreadable, SeverityBlocking, "not technical", false}},
			guidance: guidanceExecute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Through JSON, as the results are stored.
			b, err := json.Marshal(tt.results)
			if err != nil {
				t.Fatal(err)
			}
			run := readyRun()
			run.CheckResults = nil
			if err := json.Unmarshal(b, &run.CheckResults); err != nil {
				t.Fatal(err)
			}
			got := (&Service{MaxResultAge: time.Hour}).Readiness(run, &auth.Viewer{User: ownerUser, Role: access.Owner, WorkspaceID: "ws1"}, readinessNow)
			if diff := cmp.Diff(tt.open, got.Open()); diff != "" {
				t.Errorf("open gates (-want +got):\n%s", diff)
			}
			if got.Guidance != tt.guidance {
				t.Errorf("Guidance = %q, want %q", got.Guidance, tt.guidance)
			}
		})
	}
}
