package restore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/restored/restored/ent"
	"github.com/restored/restored/ent/auditlog"
	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/restorerun"
	"github.com/restored/restored/ent/restorerunitem"
	"github.com/restored/restored/internal/domain/operations"
	"github.com/restored/restored/internal/platform/apperr"
)

// ProofOutcome is what a restore run's evidence proves about its execution:
// an operation outcome, or NOT_RECONCILED when no same-scope proof can be
// identified (non-final: nothing is written from it).
type ProofOutcome string

// Proof outcomes. All but NotReconciled are operation run outcomes.
const (
	ProofSucceeded          ProofOutcome = "SUCCEEDED"
	ProofPartiallySucceeded ProofOutcome = "PARTIALLY_SUCCEEDED"
	ProofBlocked            ProofOutcome = "BLOCKED"
	ProofFailed             ProofOutcome = "FAILED"
	ProofCancelled          ProofOutcome = "CANCELLED"
	ProofNotReconciled      ProofOutcome = "NOT_RECONCILED"
)

// Audit actions the executor writes at the start and end of an execution:
// the audit continuity part of the proof bundle.
const (
	AuditExecuteStarted  = "restore_run.execute.started"
	AuditExecuteFinished = "restore_run.execute.finished"
)

// Parts of the proof bundle (Proof.Missing names those not shown).
const (
	PartRunPresent      = "run_present"      // the restore run exists and is not deleted
	PartSameWorkspace   = "same_workspace"   // it belongs to the operation's workspace
	PartSameEnvironment = "same_environment" // and to its environment
	PartExecuted        = "executed"         // it went past preview into execution
	PartRunCompleted    = "run_completed"    // its status is COMPLETED
	PartItemsSucceeded  = "items_succeeded"  // every executable item SUCCEEDED
	PartItemsVerified   = "items_verified"   // and was verified by its read-back
	PartAuditStarted    = "audit_started"    // the execution's start audit entry
	PartAuditFinished   = "audit_finished"   // and its finish audit entry
)

// Reason codes of a proof.
const (
	ReasonRunMissing          = "restore_run_missing"
	ReasonRunDeleted          = "restore_run_deleted"
	ReasonWorkspaceMismatch   = "workspace_mismatch"
	ReasonEnvironmentMismatch = "environment_mismatch"
	ReasonPreviewOnly         = "preview_only"
	ReasonNotFinished         = "execution_not_finished"
	ReasonCancelled           = "restore_cancelled"
	ReasonRunFailed           = "restore_failed"
	ReasonRunPartial          = "restore_partial"
	ReasonItemsFailed         = "items_failed"
	ReasonItemsIncomplete     = "items_incomplete"
	ReasonItemsUnverified     = "post_run_evidence_missing"
	ReasonAuditStartMissing   = "audit_start_missing"
	ReasonAuditFinishMissing  = "audit_finish_missing"
	ReasonBlockedWriteGate    = "blocked_write_gate"
	ReasonBlockedProvider     = "blocked_provider"
	ReasonBlockedBackup       = "blocked_backup"
	ReasonBlockedScope        = "blocked_scope"
)

// blockers classify the error codes of a failed execution (items, the
// finish entry, run-level technical checks) that mean "prevented", not
// "went wrong": the write gate, the provider (tenant reachability and
// permissions), the backup and the scope.
var blockers = map[string]string{
	"WRITES_DISABLED":          ReasonBlockedWriteGate,
	"WRITE_GATE_CLOSED":        ReasonBlockedWriteGate,
	"GATE_BLOCKED":             ReasonBlockedWriteGate,
	"WRITE_PERMISSION_MISSING": ReasonBlockedProvider,
	"TARGET_UNREACHABLE":       ReasonBlockedProvider,
	"PROVIDER_UNAVAILABLE":     ReasonBlockedProvider,
	"BACKUP_MISSING":           ReasonBlockedBackup,
	"BACKUP_NOT_READY":         ReasonBlockedBackup,
	"BACKUP_ITEM_MISSING":      ReasonBlockedBackup,
	"SCOPE_CHANGED":            ReasonBlockedScope,
	"SCOPE_MISMATCH":           ReasonBlockedScope,
}

// ProofEvidence is everything the proof of one execution is judged from,
// read from the database only (never from the tenant).
type ProofEvidence struct {
	// WorkspaceID and EnvironmentID are the scope the proof must match:
	// the execute operation run's.
	WorkspaceID, EnvironmentID string
	// Run is the restore run (nil: not found); a soft-deleted one proves nothing.
	Run   *ent.RestoreRun
	Items []*ent.RestoreRunItem
	// Started and Finished are the execution's audit entries, nil if absent.
	Started, Finished *ent.AuditLog
}

// Proof is the verdict: the outcome, why it is not a plain success
// (Reasons) and which parts of the bundle are missing.
type Proof struct {
	Outcome ProofOutcome
	Reasons []string
	Missing []string
	// StartedAt and FinishedAt are the restore run's own times, set only
	// when the proof is final and they are consistent (safe to copy).
	StartedAt, FinishedAt *time.Time
}

// Final reports whether the proof decides the operation's outcome.
func (p Proof) Final() bool { return p.Outcome != ProofNotReconciled }

// JudgeProof decides what the evidence proves about an execution. It is
// the one rule behind both the reconciler (restore.execute's operation
// outcome) and restoreRun.proof. SUCCEEDED needs the whole bundle: the run
// COMPLETED, every executable item SUCCEEDED and verified by its
// read-back, both audit entries, same workspace and environment, the run
// not deleted. A run that never went past preview is never an executed one.
func JudgeProof(e ProofEvidence) Proof {
	var p Proof
	notReconciled := func(reason string, missing ...string) Proof {
		return Proof{Outcome: ProofNotReconciled, Reasons: []string{reason}, Missing: missing}
	}
	r := e.Run
	switch {
	case r == nil:
		return notReconciled(ReasonRunMissing, PartRunPresent)
	case r.DeletedAt != nil:
		return notReconciled(ReasonRunDeleted, PartRunPresent)
	case r.WorkspaceID != e.WorkspaceID:
		return notReconciled(ReasonWorkspaceMismatch, PartSameWorkspace)
	case r.EnvironmentID != e.EnvironmentID:
		return notReconciled(ReasonEnvironmentMismatch, PartSameEnvironment)
	}
	switch r.Status {
	case restorerun.StatusQUEUED, restorerun.StatusRUNNING:
		return notReconciled(ReasonNotFinished, PartRunCompleted)
	case restorerun.StatusCOMPLETED, restorerun.StatusPARTIAL, restorerun.StatusFAILED, restorerun.StatusCANCELLED:
	default: // DRAFT … PREVIEWED: prepared, never executed
		return notReconciled(ReasonPreviewOnly, PartExecuted, PartRunCompleted)
	}

	var executable, succeeded, failed, incomplete, unverified int
	var codes []string
	for _, it := range e.Items {
		if !isExecutable(it) {
			continue
		}
		executable++
		switch it.Status {
		case restorerunitem.StatusSUCCEEDED:
			succeeded++
			if !it.Verified {
				unverified++
			}
		case restorerunitem.StatusFAILED:
			failed++
		default:
			incomplete++
		}
		if it.ErrorCode != nil {
			codes = append(codes, *it.ErrorCode)
		}
	}
	if e.Finished != nil {
		codes = append(codes, metaCodes(e.Finished.Metadata)...)
	}
	for _, c := range r.CheckResults {
		if c.Technical && c.Severity == "BLOCKING" {
			codes = append(codes, c.Code)
		}
	}

	if r.Status != restorerun.StatusCOMPLETED {
		p.Missing = append(p.Missing, PartRunCompleted)
	}
	if failed+incomplete > 0 {
		p.Missing = append(p.Missing, PartItemsSucceeded)
	}
	if unverified > 0 {
		p.Missing = append(p.Missing, PartItemsVerified)
	}
	if e.Started == nil {
		p.Missing = append(p.Missing, PartAuditStarted)
	}
	if e.Finished == nil {
		p.Missing = append(p.Missing, PartAuditFinished)
	}

	add := func(ok bool, reason string) {
		if ok {
			p.Reasons = append(p.Reasons, reason)
		}
	}
	switch r.Status {
	case restorerun.StatusCANCELLED:
		p.Outcome = ProofCancelled
		p.Reasons = []string{ReasonCancelled}
	case restorerun.StatusFAILED:
		for _, c := range codes {
			if b, ok := blockers[strings.ToUpper(c)]; ok && !slices.Contains(p.Reasons, b) {
				p.Reasons = append(p.Reasons, b)
			}
		}
		if len(p.Reasons) > 0 {
			p.Outcome = ProofBlocked
		} else {
			p.Outcome = ProofFailed
			p.Reasons = []string{ReasonRunFailed}
			add(failed > 0, ReasonItemsFailed)
		}
	default: // COMPLETED or PARTIAL: what the items and the audit trail show
		add(r.Status == restorerun.StatusPARTIAL, ReasonRunPartial)
		add(failed > 0, ReasonItemsFailed)
		add(incomplete > 0, ReasonItemsIncomplete)
		add(unverified > 0, ReasonItemsUnverified)
		add(e.Started == nil, ReasonAuditStartMissing)
		add(e.Finished == nil, ReasonAuditFinishMissing)
		switch {
		case len(p.Reasons) == 0:
			p.Outcome = ProofSucceeded
		case executable > 0 && succeeded == 0:
			p.Outcome = ProofFailed
		default:
			p.Outcome = ProofPartiallySucceeded
		}
	}
	if r.StartedAt != nil && r.FinishedAt != nil && !r.FinishedAt.Before(*r.StartedAt) {
		p.StartedAt, p.FinishedAt = r.StartedAt, r.FinishedAt
	}
	return p
}

// isExecutable reports whether execution was meant to write the item:
// planned skips and preview-only items never execute.
func isExecutable(it *ent.RestoreRunItem) bool {
	if it.Status == restorerunitem.StatusSKIPPED {
		return false
	}
	if it.PlannedAction != nil && *it.PlannedAction == restorerunitem.PlannedActionSKIP {
		return false
	}
	return it.PreviewAction == nil || *it.PreviewAction != restorerunitem.PreviewActionPREVIEW_ONLY
}

// metaCodes reads the error or reason codes an audit entry carries.
func metaCodes(m map[string]any) []string {
	var out []string
	if c, ok := m["errorCode"].(string); ok && c != "" {
		out = append(out, c)
	}
	switch rs := m["reasonCodes"].(type) {
	case []any:
		for _, r := range rs {
			if s, ok := r.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, rs...)
	}
	return out
}

// evidence reads the proof evidence of restore run runID for the scope
// (workspace, environment) of its execute operation run. A deleted run is
// read too: its deletion is part of the verdict.
func (s *Service) evidence(ctx context.Context, runID, workspaceID, environmentID string) (ProofEvidence, error) {
	e := ProofEvidence{WorkspaceID: workspaceID, EnvironmentID: environmentID}
	run, err := s.Client.RestoreRun.Get(ctx, runID)
	if ent.IsNotFound(err) {
		return e, nil
	}
	if err != nil {
		return e, err
	}
	e.Run = run
	if run.WorkspaceID != workspaceID {
		return e, nil // another workspace's rows are not read
	}
	if e.Items, err = s.Client.RestoreRunItem.Query().Where(restorerunitem.RunID(run.ID)).All(ctx); err != nil {
		return e, err
	}
	entries, err := s.Client.AuditLog.Query().
		Where(auditlog.WorkspaceID(workspaceID), auditlog.ObjectID(run.ID),
			auditlog.ActionIn(AuditExecuteStarted, AuditExecuteFinished)).
		Order(ent.Desc(auditlog.FieldCreatedAt)).All(ctx)
	if err != nil {
		return e, err
	}
	for _, en := range entries {
		switch {
		case en.Action == AuditExecuteStarted && e.Started == nil:
			e.Started = en
		case en.Action == AuditExecuteFinished && e.Finished == nil:
			e.Finished = en
		}
	}
	return e, nil
}

// Decide is the reconciliation adapter of restore.execute
// (operations.Adapter): the execute operation run's outcome from its
// restore run's proof. No same-scope proof: not final, nothing written.
func (s *Service) Decide(ctx context.Context, op *ent.OperationRun) (_ operations.Decision, err error) {
	defer apperr.Wrap(&err, "restore.Decide(%s)", op.ID)
	if op.SubjectID == nil || op.EnvironmentID == nil {
		return operations.Decision{}, nil
	}
	e, err := s.evidence(ctx, *op.SubjectID, op.WorkspaceID, *op.EnvironmentID)
	if err != nil {
		return operations.Decision{}, err
	}
	p := JudgeProof(e)
	if !p.Final() {
		return operations.Decision{Reasons: p.Reasons}, nil
	}
	return operations.Decision{Final: true, Outcome: operationrun.Outcome(p.Outcome), Reasons: p.Reasons,
		StartedAt: p.StartedAt, FinishedAt: p.FinishedAt}, nil
}

var _ operations.Adapter = (*Service)(nil)

// ExecutionProof is restoreRun.proof: what the run's evidence proves, judged
// for the scope of its latest execute operation run (the run's own scope
// when it never had one). The caller has already read the run, so may see it.
func (s *Service) ExecutionProof(ctx context.Context, run *ent.RestoreRun) (_ Proof, err error) {
	defer apperr.Wrap(&err, "restore.ExecutionProof(%s)", run.ID)
	ws, env := run.WorkspaceID, run.EnvironmentID
	op, err := s.Client.OperationRun.Query().
		Where(operationrun.SubjectID(run.ID), operationrun.Type(operations.TypeRestoreExecute)).
		Order(ent.Desc(operationrun.FieldCreatedAt)).First(ctx)
	switch {
	case err == nil && op.EnvironmentID != nil:
		ws, env = op.WorkspaceID, *op.EnvironmentID
	case err != nil && !ent.IsNotFound(err):
		return Proof{}, err
	}
	e, err := s.evidence(ctx, run.ID, ws, env)
	if err != nil {
		return Proof{}, err
	}
	return JudgeProof(e), nil
}
