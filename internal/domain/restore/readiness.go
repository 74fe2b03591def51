package restore

import (
	"fmt"
	"slices"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/internal/domain/access"
	"github.com/restored/restored/internal/domain/auth"
)

// Gate codes. Each is a condition execution needs; Readiness says which hold.
const (
	GateScopeDefined      = "SCOPE_DEFINED"
	GateChecksCurrent     = "CHECKS_CURRENT"
	GatePreviewCurrent    = "PREVIEW_CURRENT"
	GateNoBlockers        = "NO_BLOCKING_CHECKS"
	GateTechnicallyAble   = "TECHNICALLY_ALLOWED"
	GateDryRunOff         = "DRY_RUN_OFF"
	GateAcknowledged      = "ACKNOWLEDGED"
	GateTenantConfirmed   = "TENANT_CONFIRMED"
	GateExecuteCapability = "EXECUTE_CAPABILITY"
	GateRunEditable       = "RUN_EDITABLE"
	GatePrepareCapability = "PREPARE_CAPABILITY"
	// GateConfirmedByViewer: the one who executes is the one who confirmed
	// (spec 011 step 5); another member's confirmation is not theirs.
	GateConfirmedByViewer = "CONFIRMED_BY_VIEWER"
)

// Gate is one condition and whether it holds, in plain words.
type Gate struct {
	Code      string
	Satisfied bool
	Message   string
}

// Readiness tells a client exactly what stands between a run and its
// confirmation and execution. The server enforces the same gates.
type Readiness struct {
	CanProceedToConfirmation bool
	CanExecute               bool
	Gates                    []Gate
	Guidance                 string
}

// Open returns the codes of the gates that do not hold.
func (r Readiness) Open(codes ...string) []string {
	var open []string
	for _, g := range r.Gates {
		if g.Satisfied {
			continue
		}
		if len(codes) == 0 {
			open = append(open, g.Code)
			continue
		}
		for _, c := range codes {
			if g.Code == c {
				open = append(open, g.Code)
			}
		}
	}
	return open
}

// confirmationGates must hold to proceed to confirmation (spec 332).
var confirmationGates = []string{GateRunEditable, GatePrepareCapability, GateScopeDefined, GateChecksCurrent, GatePreviewCurrent, GateNoBlockers, GateTechnicallyAble}

// Readiness computes the gates of run for viewer v at now.
func (s *Service) Readiness(run *ent.RestoreRun, v *auth.Viewer, now time.Time) Readiness {
	fp := scopeFingerprint(run)
	maxAge := s.maxAge()
	current := func(resultFP string, at *time.Time) (bool, string) {
		switch {
		case at == nil || resultFP == "":
			return false, "not run yet"
		case resultFP != fp:
			return false, "stale: the scope changed after they ran"
		case now.Sub(*at) > maxAge:
			return false, fmt.Sprintf("stale: older than %s", maxAge)
		}
		return true, ""
	}
	var gates []Gate
	add := func(code string, ok bool, yes, no string) {
		msg := yes
		if !ok {
			msg = no
		}
		gates = append(gates, Gate{Code: code, Satisfied: ok, Message: msg})
	}
	add(GateRunEditable, isEditable(run.Status), "The run is still being prepared.",
		"The run is "+string(run.Status)+"; it can no longer be confirmed or executed.")
	add(GatePrepareCapability, v != nil && v.Can(run.WorkspaceID, access.RestorePrepare),
		"You may prepare restores.", "Your role can only read restore runs; an operator or an owner prepares them.")
	add(GateScopeDefined, run.ScopeFingerprint != "" && run.Status != restorerun.StatusDRAFT,
		"The scope is defined.", "Define the scope (step 2).")
	okChecks, why := current(run.CheckFingerprint, run.CheckedAt)
	add(GateChecksCurrent, okChecks, "Safety checks are current.", "Run the safety checks (step 3): "+why+".")
	okPreview, why := current(run.PreviewFingerprint, run.PreviewedAt)
	add(GatePreviewCurrent, okPreview, "The preview is current.", "Generate the preview (step 4): "+why+".")
	blocking := 0
	if run.CheckSummary != nil {
		blocking = run.CheckSummary.Blocking
	}
	add(GateNoBlockers, okChecks && blocking == 0, "No check blocks the restore.",
		blockersMessage(okChecks, blocking))
	technical := technicalBlockers(run)
	live := liveBlockers(run)
	reasons := slices.Clone(live)
	for _, t := range technical {
		if !slices.Contains(live, t) { // the checks saw it too
			reasons = append(reasons, t)
		}
	}
	add(GateTechnicallyAble, okChecks && len(reasons) == 0, "The target can be written.",
		technicalMessage(okChecks, reasons))
	// A confirmation holds only for the scope, checks and preview it was
	// given for, and so expires with them.
	stale := run.ConfirmedAt != nil &&
		(!okChecks || !okPreview || run.ConfirmedFingerprint != confirmationFingerprint(run))
	const again = "The confirmation was given for a scope, checks or preview that are no longer current: confirm again (step 5)."
	add(GateDryRunOff, !run.DryRun, "Dry run is off.", "Dry run is on: turn it off to execute (step 5).")
	ackMsg := "Acknowledge that you reviewed the impact (step 5)."
	if stale && run.Acknowledged {
		ackMsg = again
	}
	add(GateAcknowledged, run.Acknowledged && !stale, "The impact was acknowledged.", ackMsg)
	confirmed := run.ConfirmedAt != nil && !run.DryRun && run.Acknowledged && !stale
	confirmMsg := "Type the tenant name \"" + run.TenantLabel + "\" to confirm (step 5)."
	if stale {
		confirmMsg = again + " " + confirmMsg
	}
	add(GateTenantConfirmed, confirmed, "The tenant name was confirmed.", confirmMsg)
	add(GateExecuteCapability, v != nil && v.Can(run.WorkspaceID, access.RestoreExecute),
		"You may execute restores.", "Your role cannot execute restores; an owner must.")
	mine := v != nil && v.User != nil && run.ConfirmedBy != nil && *run.ConfirmedBy == v.User.ID
	switch {
	case !confirmed:
		add(GateConfirmedByViewer, true, "Whoever confirms the run is the one who executes it.", "")
	default:
		add(GateConfirmedByViewer, mine, "You confirmed the run yourself.",
			"Another member confirmed this run: whoever executes it confirms it themselves (step 5).")
	}

	r := Readiness{Gates: gates}
	r.CanProceedToConfirmation = len(r.Open(confirmationGates...)) == 0
	r.CanExecute = len(r.Open()) == 0
	r.Guidance = guidance(r)
	return r
}

func blockersMessage(checked bool, n int) string {
	if !checked {
		return "Unknown until the safety checks are current."
	}
	if n == 1 {
		return "1 check blocks the restore: resolve it (for example map the groups) and check again."
	}
	return fmt.Sprintf("%d checks block the restore: resolve them (for example map the groups) and check again.", n)
}

func technicalMessage(checked bool, reasons []string) string {
	if !checked && len(reasons) == 0 {
		return "Unknown until the safety checks are current."
	}
	msg := "The target cannot be written:"
	for _, r := range reasons {
		msg += " " + r
	}
	return msg
}

// technicalBlockers are run-level check results that make execution
// impossible whatever the scope (unreachable target, writes disabled,
// missing write permission).
func technicalBlockers(run *ent.RestoreRun) []string {
	var out []string
	for _, r := range run.CheckResults {
		if r.Technical && r.Severity == SeverityBlocking {
			out = append(out, r.Message)
		}
	}
	return out
}

// liveBlockers are the target's present state that forbids writing to it,
// read from the run's loaded environment rather than from the checks, which
// may be up to MaxResultAge old: writes turned off, the environment
// archived, its credentials removed or replaced after the checks ran (they
// proved the old ones), or its verified permissions no longer allowing
// writes. Without a loaded environment there is nothing live to judge.
func liveBlockers(run *ent.RestoreRun) []string {
	env := run.Edges.Environment
	if env == nil {
		return nil
	}
	var out []string
	if env.ArchivedAt != nil {
		out = append(out, "The environment "+env.DisplayName+" is archived.")
	}
	if !env.WriteEnabled {
		out = append(out, "Writes are disabled for "+env.DisplayName+": enable them on the environment to execute.")
	}
	switch {
	case env.CredentialsSetAt == nil || len(env.ClientSecretEncrypted) == 0:
		out = append(out, "The environment has no credentials: set them and run the checks again.")
	case run.CheckedAt != nil && env.CredentialsSetAt.After(*run.CheckedAt):
		out = append(out, "The environment's credentials changed after the safety checks ran: run them again.")
	}
	for _, r := range permissionResults(env) {
		if r.Technical && r.Severity == SeverityBlocking {
			out = append(out, r.Message)
		}
	}
	return out
}

// guidance is the one sentence a client shows above the wizard's buttons.
func guidance(r Readiness) string {
	switch {
	case r.CanExecute:
		return "Everything is in place: execute when ready."
	case r.CanProceedToConfirmation && len(r.Open(GateDryRunOff, GateAcknowledged, GateTenantConfirmed)) > 0:
		// Only while confirming is still to do: a confirmed run that the
		// viewer cannot execute says why (the first open gate).
		return "Checks and preview are current: review the preview and confirm (step 5)."
	}
	for _, g := range r.Gates {
		if !g.Satisfied {
			return g.Message
		}
	}
	return ""
}

// unknownTarget closes the target gate of r when the target's state could
// not be read.
func unknownTarget(r Readiness) Readiness {
	gates := slices.Clone(r.Gates)
	for i, g := range gates {
		if g.Code == GateTechnicallyAble {
			gates[i] = Gate{Code: g.Code, Message: "The target's state could not be read: reload the run."}
		}
	}
	out := Readiness{Gates: gates}
	out.CanProceedToConfirmation = len(out.Open(confirmationGates...)) == 0
	out.CanExecute = len(out.Open()) == 0
	out.Guidance = guidance(out)
	return out
}
