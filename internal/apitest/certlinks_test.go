package apitest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/msgraph/graphsim"
)

// TestCertificateLinksNotRestored: an enterprise Wi-Fi profile and a VPN
// profile reach their certificate profiles through Graph relationships that
// restore does not carry. Restored into a tenant without them, each is
// created with a warning naming its own type's relationships (a general
// profile gets none); nothing blocks, and once the impact is acknowledged
// the run executes. Into a tenant that holds the Wi-Fi profile it is an
// update without that warning, and the preview's note says the target's
// links are left as they are.
func TestCertificateLinksNotRestored(t *testing.T) {
	e := start(t)
	s := e.startSim()
	source, srcEnv := e.tenantEnv(s, "tpl", graphsim.GenOptions{Seed: 1})
	bare, bareEnv := e.tenantEnv(s, "customer", graphsim.GenOptions{Seed: 2})
	holder, holderEnv := e.tenantEnv(s, "branch", graphsim.GenOptions{Seed: 3})
	// EAP-TLS: the profile authenticates with the identity certificate it
	// links, and trusts the server through the root certificates it links.
	wifi := func(id, ssid string) map[string]any {
		return map[string]any{"id": id, "@odata.type": "#microsoft.graph.windowsWifiEnterpriseEAPConfiguration",
			"displayName": "Corp Wi-Fi", "ssid": ssid, "networkName": "Corp", "wifiSecurityType": "wpa2Enterprise",
			"eapType": "eapTls", "authenticationMethod": "certificate", "trustedServerCertificateNames": []any{"radius.contoso.test"}}
	}
	mustPut(t, source, "deviceConfiguration", wifi("src-wifi", "CORP"))
	mustPut(t, source, "deviceConfiguration", map[string]any{"id": "src-vpn", "@odata.type": "#microsoft.graph.windows10VpnConfiguration",
		"displayName": "Corp VPN", "connectionName": "Corp", "connectionType": "ikEv2", "authenticationMethod": "certificate",
		"servers": []any{map[string]any{"address": "vpn.contoso.test", "description": "Corp", "isDefaultServer": true}}})
	mustPut(t, source, "deviceConfiguration", map[string]any{"id": "src-gen", "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
		"displayName": "Corp baseline", "passwordRequired": true})
	mustPut(t, holder, "deviceConfiguration", wifi("t-wifi", "CORP-OLD"))
	bs := e.backupOf(srcEnv.ID, "template")
	wifiItem, vpnItem, genItem := e.backupItemBySource(bs, "src-wifi"), e.backupItemBySource(bs, "src-vpn"), e.backupItemBySource(bs, "src-gen")

	// certificateResults lists each item's CERTIFICATE_LINKS_NOT_RESTORED
	// results by name, with its plan and preview.
	type itemCerts struct {
		Planned, Preview, Note string
		Results                []string
	}
	certificateResults := func(runID string) map[string]itemCerts {
		out := map[string]itemCerts{}
		for _, it := range e.items(runID) {
			v := itemCerts{Planned: deref(it.PlannedAction), Preview: deref(it.PreviewAction)}
			if it.PreviewDiff != nil {
				v.Note = it.PreviewDiff.Note
			}
			for _, c := range it.CheckResults {
				if c.Code == "CERTIFICATE_LINKS_NOT_RESTORED" {
					v.Results = append(v.Results, c.Severity+": "+c.Message)
				}
			}
			out[it.DisplayName] = v
		}
		return out
	}

	// Into a tenant without them: created, each warned with its own links.
	w := &wizard{e: e, t: t, token: e.owner}
	w.must("createRestoreRun", map[string]any{"environmentId": bareEnv.ID, "backupSetId": bs})
	w.must("defineRestoreScope", map[string]any{"runId": w.id, "mode": "SELECTED", "itemIds": []string{wifiItem, vpnItem, genItem}, "createMissing": true})
	if v := w.checked(); v.CheckSummary.Blocking != 0 {
		t.Fatalf("checks block: %+v", v.CheckSummary)
	}
	v := w.previewed()
	want := map[string]itemCerts{
		"Corp Wi-Fi": {Planned: "CREATE", Preview: "CREATE", Results: []string{"WARNING: Created without its certificate links " +
			"(rootCertificatesForServerValidation, identityCertificateForClientAuthentication): link its certificate profiles in Intune after the restore."}},
		"Corp VPN": {Planned: "CREATE", Preview: "CREATE", Results: []string{"WARNING: Created without its certificate links " +
			"(identityCertificate): link its certificate profiles in Intune after the restore."}},
		"Corp baseline": {Planned: "CREATE", Preview: "CREATE"},
	}
	if diff := cmp.Diff(want, certificateResults(w.id)); diff != "" {
		t.Errorf("created items (-want +got):\n%s", diff)
	}
	if !v.Readiness.CanProceedToConfirmation {
		t.Fatalf("the warnings keep the run from confirmation: open %v", v.open())
	}
	// Acknowledged like any other warning, the run may execute.
	if v := w.must("confirmRestoreRun", map[string]any{"runId": w.id, "dryRun": false, "acknowledged": true,
		"tenantConfirmation": bareEnv.DisplayName}); !v.Readiness.CanExecute {
		t.Fatalf("confirmed, the run cannot execute: open %v", v.open())
	}
	w.must("executeRestoreRun", map[string]any{"runId": w.id})
	if v := w.terminal(); v.Status != "COMPLETED" {
		t.Fatalf("execution %s: %+v", v.Status, e.items(w.id))
	}
	created, ok := bare.Object("deviceConfiguration", deref(e.items(w.id)[wifiItem].TargetGraphID))
	if !ok || created["eapType"] != "eapTls" {
		t.Errorf("created Wi-Fi profile: %v", created)
	}

	// Into a tenant that has the Wi-Fi profile: an update, no warning, and
	// the preview says the target's links stay.
	w2 := &wizard{e: e, t: t, token: e.operator}
	w2.must("createRestoreRun", map[string]any{"environmentId": holderEnv.ID, "backupSetId": bs})
	w2.must("defineRestoreScope", map[string]any{"runId": w2.id, "mode": "SELECTED", "itemIds": []string{wifiItem}, "createMissing": true})
	if v := w2.checked(); v.CheckSummary.Blocking != 0 {
		t.Fatalf("checks block: %+v", v.CheckSummary)
	}
	w2.previewed()
	want = map[string]itemCerts{"Corp Wi-Fi": {Planned: "UPDATE", Preview: "UPDATE",
		Note: "the target's certificate links (rootCertificatesForServerValidation, identityCertificateForClientAuthentication) are left as they are: restore does not carry them"}}
	if diff := cmp.Diff(want, certificateResults(w2.id)); diff != "" {
		t.Errorf("updated item (-want +got):\n%s", diff)
	}
	if got := deref(e.items(w2.id)[wifiItem].TargetGraphID); got != "t-wifi" {
		t.Errorf("updates %q, want t-wifi", got)
	}
}
