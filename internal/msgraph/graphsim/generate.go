package graphsim

import (
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/restored/restored/internal/intune"
)

// GenOptions say what Generate creates. Zero counts create nothing of that
// kind.
type GenOptions struct {
	// Seed makes the tenant: the same seed and counts give the same objects
	// (ids, names, timestamps, assignments) in a fresh tenant.
	Seed int64
	// Policies objects are spread round-robin over every catalog type in
	// catalog order, so every type is present once Policies >=
	// len(intune.Types()).
	Policies int
	// Groups, ScopeTags and Filters are created first, so that policies'
	// assignments and scope tags can reference them.
	Groups, ScopeTags, Filters int
}

// Generate fills t with a realistic tenant: groups, scope tags (besides the
// built-in Default "0"), assignment filters, then g.Policies objects over
// every catalog type with payloads like Graph's (several @odata.type
// variants per family, settings catalog settings, compliance scheduled
// actions, administrative template definition values, base64 scripts,
// custom OMA-URI profiles some of which hold encrypted secrets, ...).
// Names are unique per type; assignments target the tenant's groups and
// filters; scope tag ids reference the generated tags. Objects are stored
// with Put: no throttling, no write log. It is meant for a fresh tenant:
// names are unique among what one call creates.
func Generate(t *Tenant, g GenOptions) {
	gn := &gen{
		r:     mrand.New(mrand.NewPCG(uint64(g.Seed), 0x9e3779b97f4a7c15)),
		t:     t,
		clock: time.Date(2024, 1, 8, 9, 0, 0, 0, time.UTC),
		names: map[string]map[string]bool{},
		count: map[string]int{},
	}
	for range g.Groups {
		gn.group()
	}
	for range g.ScopeTags {
		gn.put("roleScopeTag")
	}
	for range g.Filters {
		gn.put("assignmentFilter")
	}
	types := intune.Types()
	for i := range g.Policies {
		gn.put(types[i%len(types)].Key)
	}
}

// gen holds the state of one Generate run. Every random choice comes from r
// in a fixed order: nothing depends on map iteration.
type gen struct {
	r         *mrand.Rand
	t         *Tenant
	clock     time.Time
	groups    []string
	tags      []string
	filters   []genFilter
	templates []string
	names     map[string]map[string]bool
	count     map[string]int // objects generated per type, picks variants
}

type genFilter struct{ id, platform string }

func (g *gen) guid() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return formatGUID(b)
}

func pick[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// when returns a creation time and a later modification time: objects are
// created a few hours apart and edited some days later.
func (g *gen) when() (created, modified string) {
	g.clock = g.clock.Add(time.Duration(1+g.r.IntN(20)) * time.Hour)
	return timestamp(g.clock), timestamp(g.clock.Add(time.Duration(g.r.IntN(24*60)) * time.Hour))
}

// unique returns base, or base with a counter when the type already has
// that name.
func (g *gen) unique(typeKey, base string) string {
	used := g.names[typeKey]
	if used == nil {
		used = map[string]bool{}
		g.names[typeKey] = used
	}
	name := base
	for n := 2; used[name]; n++ {
		name = fmt.Sprintf("%s (%d)", base, n)
	}
	used[name] = true
	return name
}

var (
	departments = []string{"Finance", "HR", "Sales", "Engineering", "Marketing", "Legal", "IT", "Operations", "Support", "Research"}
	rings       = []string{"Pilot", "Prod", "Ring 1", "Ring 2", "Broad", "Executives", "Kiosk", "Shared"}
	regions     = []string{"EMEA", "NA", "APAC", "LATAM", "DACH", "Nordics", "UK", "France"}
)

func (g *gen) group() {
	id := g.guid()
	name := g.unique("group", fmt.Sprintf("SG-Intune-%s-%s-%s", pick(g, departments),
		pick(g, []string{"Windows", "macOS", "iOS", "Android", "AllDevices", "Users"}), strings.ReplaceAll(pick(g, rings), " ", "")))
	g.t.AddGroup(id, name)
	g.groups = append(g.groups, id)
}

// put generates one object of the type and stores it.
func (g *gen) put(typeKey string) {
	typ, _ := intune.Lookup(typeKey)
	n := g.count[typeKey]
	g.count[typeKey]++
	build, ok := builders[typeKey]
	if !ok {
		build = genericBuilder(typ)
	}
	obj, assignExtra := build(g, n)
	name := nameProperty(typ)
	obj[name] = g.unique(typeKey, obj[name].(string))
	if _, ok := obj["description"]; !ok {
		obj["description"] = pick(g, []string{"", "Managed by the endpoint team.", "Reviewed quarterly.", "See change ticket CHG" + fmt.Sprint(10000+g.r.IntN(90000)) + "."})
	}
	if typ.ScopeTagsProperty != "" {
		obj[typ.ScopeTagsProperty] = g.scopeTags()
	}
	tr := traitsOf(typ)
	created, modified := g.when()
	if !tr.noCreated {
		obj["createdDateTime"] = created
	}
	if !tr.noModified {
		obj["lastModifiedDateTime"] = modified
	}
	if typeKey != "roleScopeTag" { // scope tags are numbered by the tenant
		obj["id"] = g.guid()
	}
	for _, r := range typ.Expand {
		items, _ := obj[r.Name].([]any)
		g.stampItems(items, r, modified)
	}
	if typ.Assignments.Supported {
		obj["assignments"] = g.assignments(typ, typ.Platform(obj), assignExtra)
	}
	stored, err := g.t.Put(typeKey, obj)
	if err != nil {
		panic("graphsim: generated an invalid " + typeKey + ": " + err.Error()) // a bug in a builder
	}
	id := stored["id"].(string)
	switch typeKey {
	case "roleScopeTag":
		g.tags = append(g.tags, id)
	case "assignmentFilter":
		g.filters = append(g.filters, genFilter{id: id, platform: typ.Platform(stored)})
	case "notificationMessageTemplate":
		g.templates = append(g.templates, id)
	}
}

// scopeTags returns the scope tag ids of a new object: Default, a generated
// tag, or both.
func (g *gen) scopeTags() []any {
	if len(g.tags) == 0 {
		return []any{"0"}
	}
	tag := pick(g, g.tags)
	switch g.r.IntN(3) {
	case 0:
		return []any{"0"}
	case 1:
		return []any{tag}
	}
	return []any{"0", tag}
}

// assignments returns 0 to 3 assignments targeting distinct groups (or all
// devices / all users), some with a filter of the object's platform. extra
// returns type-specific assignment properties (health script schedules).
func (g *gen) assignments(typ *intune.Type, platform string, extra func() map[string]any) []any {
	out := []any{}
	used := map[string]bool{}
	for range g.r.IntN(4) {
		target := map[string]any{}
		switch k := g.r.IntN(10); {
		case k < 6 && len(g.groups) > 0:
			target["@odata.type"] = "#microsoft.graph.groupAssignmentTarget"
			target["groupId"] = pick(g, g.groups)
		case k < 8 && len(g.groups) > 0:
			target["@odata.type"] = "#microsoft.graph.exclusionGroupAssignmentTarget"
			target["groupId"] = pick(g, g.groups)
		case k < 9:
			target["@odata.type"] = "#microsoft.graph.allDevicesAssignmentTarget"
		default:
			target["@odata.type"] = "#microsoft.graph.allLicensedUsersAssignmentTarget"
		}
		key := fmt.Sprint(target["@odata.type"], target["groupId"])
		if used[key] {
			continue
		}
		used[key] = true
		target["deviceAndAppManagementAssignmentFilterId"] = nil
		target["deviceAndAppManagementAssignmentFilterType"] = "none"
		if !strings.Contains(target["@odata.type"].(string), "exclusion") && typ.Key != "appProtectionPolicy" && g.chance(0.4) {
			var fits []string
			for _, f := range g.filters {
				if f.platform == platform {
					fits = append(fits, f.id)
				}
			}
			if len(fits) > 0 {
				target["deviceAndAppManagementAssignmentFilterId"] = pick(g, fits)
				target["deviceAndAppManagementAssignmentFilterType"] = pick(g, []string{"include", "exclude"})
			}
		}
		a := map[string]any{"id": g.guid(), "target": target}
		if extra != nil {
			for k, v := range extra() {
				a[k] = v
			}
		}
		out = append(out, a)
	}
	return out
}

// builder makes the payload of the n-th object of a type (name as a base
// to be made unique) and optionally extra assignment properties.
type builder func(g *gen, n int) (map[string]any, func() map[string]any)

func genericBuilder(typ *intune.Type) builder {
	return func(g *gen, n int) (map[string]any, func() map[string]any) {
		return map[string]any{"@odata.type": typ.ODataBase, nameProperty(typ): typ.Label + " " + pick(g, rings)}, nil
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// platformPrefix is how admins prefix policy names.
var platformPrefix = map[string]string{"windows": "WIN", "macOS": "MAC", "iOS": "IOS", "android": "AND", "all": "ALL"}

func (g *gen) policyName(platform, topic string) string {
	return fmt.Sprintf("%s - %s - %s", platformPrefix[platform], topic, pick(g, rings))
}

var builders = map[string]builder{
	"roleScopeTag": func(g *gen, n int) (map[string]any, func() map[string]any) {
		kind := pick(g, []string{"Region", "Dept", "Site"})
		var v string
		switch kind {
		case "Region":
			v = pick(g, regions)
		case "Dept":
			v = pick(g, departments)
		default:
			v = pick(g, []string{"London", "Seattle", "Munich", "Sydney", "Paris", "Toronto"})
		}
		return map[string]any{
			"@odata.type": "#microsoft.graph.roleScopeTag",
			"displayName": kind + "-" + v,
			"description": "Objects administered by the " + v + " team.",
		}, nil
	},
	"assignmentFilter": func(g *gen, n int) (map[string]any, func() map[string]any) {
		type f struct{ platform, label, rule string }
		fs := []f{
			{"windows10AndLater", "Windows 11", `(device.osVersion -startsWith "10.0.22")`},
			{"windows10AndLater", "Corporate Windows", `(device.deviceOwnership -eq "Corporate") and (device.operatingSystemSKU -in ["Enterprise", "Education"])`},
			{"windows10AndLater", "Surface devices", `(device.manufacturer -eq "Microsoft Corporation") and (device.model -startsWith "Surface")`},
			{"iOS", "Corporate iPhones", `(device.deviceOwnership -eq "Corporate") and (device.model -startsWith "iPhone")`},
			{"iOS", "iPads", `(device.model -startsWith "iPad")`},
			{"macOS", "Apple silicon Macs", `(device.model -contains "MacBook") or (device.model -contains "Mac mini")`},
			{"androidForWork", "Android Enterprise", `(device.enrollmentProfileName -eq "Corporate-owned work profile")`},
		}
		x := fs[(n+g.r.IntN(2))%len(fs)]
		return map[string]any{
			"@odata.type":                    "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
			"displayName":                    "FLT - " + x.label,
			"platform":                       x.platform,
			"rule":                           x.rule,
			"assignmentFilterManagementType": "devices",
		}, nil
	},
	"notificationMessageTemplate": func(g *gen, n int) (map[string]any, func() map[string]any) {
		msgs := []any{map[string]any{
			"locale": "en-us", "isDefault": true,
			"subject":         "Action required: your device is not compliant",
			"messageTemplate": "Your device no longer meets the company's security requirements. Open Company Portal and follow the steps to restore access to company resources.",
		}}
		if g.chance(0.5) {
			msgs = append(msgs, map[string]any{
				"locale": "de-de", "isDefault": false,
				"subject":         "Handlungsbedarf: Ihr Gerät ist nicht konform",
				"messageTemplate": "Ihr Gerät erfüllt die Sicherheitsanforderungen des Unternehmens nicht mehr. Öffnen Sie das Unternehmensportal, um den Zugriff wiederherzustellen.",
			})
		}
		return map[string]any{
			"@odata.type":                   "#microsoft.graph.notificationMessageTemplate",
			"displayName":                   "NTF - Noncompliance - " + pick(g, []string{"Warning", "Final notice", "Grace period", "Block"}),
			"defaultLocale":                 "en-US",
			"brandingOptions":               "includeCompanyLogo,includeCompanyName,includeContactInformation",
			"localizedNotificationMessages": msgs,
		}, nil
	},
	"deviceConfiguration": func(g *gen, n int) (map[string]any, func() map[string]any) {
		switch n % 6 {
		case 0, 4:
			settings := []any{
				map[string]any{"@odata.type": "#microsoft.graph.omaSettingInteger", "displayName": "Allow Telemetry", "description": "",
					"omaUri": "./Device/Vendor/MSFT/Policy/Config/System/AllowTelemetry", "value": float64(g.r.IntN(4)), "isReadOnly": false},
				map[string]any{"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "Lock screen image", "description": "",
					"omaUri": "./Vendor/MSFT/Personalization/LockScreenImageUrl", "value": "https://intranet.contoso.example/branding/lock.jpg"},
			}
			if n%6 == 4 {
				// Graph returns secret OMA values encrypted, never in clear.
				settings = append(settings, map[string]any{"@odata.type": "#microsoft.graph.omaSettingString",
					"displayName": "Wi-Fi pre-shared key", "description": "", "omaUri": "./Vendor/MSFT/WiFi/Profile/CORP-WLAN/WlanXml",
					"value": b64(fmt.Sprintf("enc:%x", g.r.Uint64())), "isEncrypted": true, "secretReferenceValueId": g.guid()})
			}
			return map[string]any{
				"@odata.type": "#microsoft.graph.windows10CustomConfiguration",
				"displayName": g.policyName("windows", pick(g, []string{"Custom OMA-URI", "Branding", "Telemetry", "Wi-Fi"})),
				"omaSettings": settings,
			}, nil
		case 1:
			return map[string]any{
				"@odata.type":           "#microsoft.graph.windows10GeneralConfiguration",
				"displayName":           g.policyName("windows", pick(g, []string{"Device Restrictions", "Defender", "Edge", "Security Baseline"})),
				"passwordRequired":      true,
				"passwordRequiredType":  "alphanumeric",
				"passwordMinimumLength": float64(8 + g.r.IntN(7)),
				"passwordMinutesOfInactivityBeforeScreenTimeout": float64(5 * (1 + g.r.IntN(3))),
				"defenderRequireRealTimeMonitoring":              true,
				"defenderScanType":                               pick(g, []string{"quick", "full"}),
				"defenderScheduledScanTime":                      "02:00:00.0000000",
				"smartScreenEnableAppInstallControl":             g.chance(0.5),
				"edgeBlockPopups":                                true,
				"cortanaBlocked":                                 g.chance(0.7),
				"cameraBlocked":                                  g.chance(0.2),
				"bluetoothBlocked":                               false,
				"storageRequireMobileDeviceEncryption":           true,
			}, nil
		case 2:
			return map[string]any{
				"@odata.type":                           "#microsoft.graph.iosGeneralDeviceConfiguration",
				"displayName":                           g.policyName("iOS", pick(g, []string{"Device Restrictions", "Passcode", "Supervised"})),
				"passcodeRequired":                      true,
				"passcodeRequiredType":                  "numeric",
				"passcodeMinimumLength":                 float64(pick(g, []int{4, 6})),
				"passcodeMinutesOfInactivityBeforeLock": float64(pick(g, []int{1, 2, 5})),
				"cameraBlocked":                         false,
				"iCloudBlockBackup":                     g.chance(0.6),
				"appStoreBlocked":                       false,
				"safariBlockAutofill":                   g.chance(0.5),
				"screenCaptureBlocked":                  g.chance(0.3),
			}, nil
		case 3:
			domain := pick(g, []string{"screensaver", "loginwindow", "dock", "firewall"})
			plist := `<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd"><plist version="1.0"><dict><key>PayloadType</key><string>com.apple.` + domain + `</string><key>PayloadVersion</key><integer>1</integer></dict></plist>`
			return map[string]any{
				"@odata.type":       "#microsoft.graph.macOSCustomConfiguration",
				"displayName":       g.policyName("macOS", "Custom profile "+domain),
				"payloadName":       "com.contoso." + domain,
				"payloadFileName":   domain + ".mobileconfig",
				"payload":           b64(plist),
				"deploymentChannel": "deviceChannel",
			}, nil
		}
		return map[string]any{
			"@odata.type":                      "#microsoft.graph.androidWorkProfileGeneralDeviceConfiguration",
			"displayName":                      g.policyName("android", pick(g, []string{"Work Profile Restrictions", "Work Profile Passcode"})),
			"passwordRequiredType":             "deviceDefault",
			"workProfileBlockCamera":           g.chance(0.3),
			"workProfilePasswordMinimumLength": float64(6),
			"workProfileDataSharingType":       pick(g, []string{"preventAny", "allowPersonalToWork"}),
		}, nil
	},
	"settingsCatalogPolicy": func(g *gen, n int) (map[string]any, func() map[string]any) {
		type def struct {
			id, kind string
			value    any
		}
		platform := []string{"windows10", "windows10", "macOS"}[n%3]
		pool := []def{
			{"device_vendor_msft_policy_config_defender_allowrealtimemonitoring", "choice", "_1"},
			{"device_vendor_msft_policy_config_defender_allowcloudprotection", "choice", "_1"},
			{"device_vendor_msft_policy_config_browser_allowpasswordmanager", "choice", "_0"},
			{"device_vendor_msft_bitlocker_requiredeviceencryption", "choice", "_1"},
			{"device_vendor_msft_policy_config_devicelock_minimumpasswordlength", "int", float64(8 + g.r.IntN(7))},
			{"device_vendor_msft_policy_config_update_activehoursstart", "int", float64(6 + g.r.IntN(4))},
			{"device_vendor_msft_policy_config_localpoliciessecurityoptions_interactivelogon_messagetitleforusersattemptingtologon", "string", "Contoso corporate device"},
		}
		topics := []string{"Defender", "BitLocker", "Update Rings", "Edge", "Logon"}
		if platform == "macOS" {
			pool = []def{
				{"com.apple.screensaver_idletime", "int", float64(300 * (1 + g.r.IntN(4)))},
				{"com.apple.applicationaccess_allowairdrop", "choice", "_false"},
				{"com.apple.applicationaccess_allowcamera", "choice", "_true"},
				{"com.apple.loginwindow_loginwindowtext", "string", "Property of Contoso"},
			}
			topics = []string{"Screensaver", "Restrictions", "Login Window"}
		}
		settings := []any{}
		for _, i := range g.r.Perm(len(pool))[:2+g.r.IntN(3)] {
			d := pool[i]
			var inst map[string]any
			switch d.kind {
			case "choice":
				inst = map[string]any{
					"@odata.type":         "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
					"settingDefinitionId": d.id,
					"choiceSettingValue": map[string]any{
						"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue",
						"value":       d.id + d.value.(string), "children": []any{},
					},
				}
			default:
				vt := "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue"
				if d.kind == "string" {
					vt = "#microsoft.graph.deviceManagementConfigurationStringSettingValue"
				}
				inst = map[string]any{
					"@odata.type":         "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
					"settingDefinitionId": d.id,
					"simpleSettingValue":  map[string]any{"@odata.type": vt, "value": d.value},
				}
			}
			settings = append(settings, map[string]any{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": inst})
		}
		plat := "windows"
		if platform == "macOS" {
			plat = "macOS"
		}
		return map[string]any{
			"@odata.type":       "#microsoft.graph.deviceManagementConfigurationPolicy",
			"name":              g.policyName(plat, "SC "+pick(g, topics)),
			"platforms":         platform,
			"technologies":      "mdm",
			"templateReference": map[string]any{"templateId": "", "templateFamily": "none", "templateDisplayName": nil, "templateDisplayVersion": nil},
			"settings":          settings,
		}, nil
	},
	"deviceCompliancePolicy": func(g *gen, n int) (map[string]any, func() map[string]any) {
		actions := []any{map[string]any{
			"actionType": "block", "gracePeriodHours": float64(pick(g, []int{0, 24, 72})),
			"notificationTemplateId": "", "notificationMessageCCList": []any{},
		}}
		if len(g.templates) > 0 && g.chance(0.6) {
			actions = append(actions, map[string]any{
				"actionType": "notification", "gracePeriodHours": float64(0),
				"notificationTemplateId": pick(g, g.templates), "notificationMessageCCList": []any{},
			})
		}
		obj := map[string]any{"scheduledActionsForRule": []any{map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": actions}}}
		switch n % 4 {
		case 0:
			obj["@odata.type"] = "#microsoft.graph.windows10CompliancePolicy"
			obj["displayName"] = g.policyName("windows", "Compliance")
			obj["passwordRequired"] = true
			obj["passwordMinimumLength"] = float64(8 + g.r.IntN(5))
			obj["osMinimumVersion"] = pick(g, []string{"10.0.19045", "10.0.22621", "10.0.22631"})
			obj["bitLockerEnabled"] = true
			obj["secureBootEnabled"] = true
			obj["defenderEnabled"] = true
		case 1:
			obj["@odata.type"] = "#microsoft.graph.iosCompliancePolicy"
			obj["displayName"] = g.policyName("iOS", "Compliance")
			obj["passcodeRequired"] = true
			obj["passcodeMinimumLength"] = float64(6)
			obj["osMinimumVersion"] = pick(g, []string{"16.0", "17.0", "17.4"})
			obj["securityBlockJailbrokenDevices"] = true
		case 2:
			obj["@odata.type"] = "#microsoft.graph.macOSCompliancePolicy"
			obj["displayName"] = g.policyName("macOS", "Compliance")
			obj["passwordRequired"] = true
			obj["systemIntegrityProtectionEnabled"] = true
			obj["storageRequireEncryption"] = true
			obj["firewallEnabled"] = g.chance(0.8)
		default:
			obj["@odata.type"] = "#microsoft.graph.androidWorkProfileCompliancePolicy"
			obj["displayName"] = g.policyName("android", "Compliance")
			obj["passwordRequired"] = true
			obj["securityBlockJailbrokenDevices"] = true
			obj["osMinimumVersion"] = pick(g, []string{"11.0", "12.0", "13.0"})
		}
		return obj, nil
	},
	"groupPolicyConfiguration": func(g *gen, n int) (map[string]any, func() map[string]any) {
		values := []any{}
		for _, i := range g.r.Perm(len(admxDefinitions))[:1+g.r.IntN(3)] {
			d := admxDefinitions[i]
			pv := []any{}
			if d.presentation != nil {
				pv = append(pv, d.presentation(g))
			}
			values = append(values, map[string]any{
				"enabled": g.chance(0.85), "configurationType": "policy",
				"definition": map[string]any{
					"id": d.id, "displayName": d.name, "classType": d.class, "categoryPath": d.category,
				},
				"presentationValues": pv,
			})
		}
		return map[string]any{
			"@odata.type":      "#microsoft.graph.groupPolicyConfiguration",
			"displayName":      g.policyName("windows", "ADMX "+pick(g, []string{"Explorer", "Windows Update", "Edge", "Desktop", "System"})),
			"definitionValues": values,
		}, nil
	},
	"deviceManagementScript": func(g *gen, n int) (map[string]any, func() map[string]any) {
		task := pick(g, []string{"Set-TimeZone", "Enable-BitLockerRecoveryBackup", "Remove-BloatwareApps", "Set-RegionalSettings", "Map-NetworkDrives"})
		script := "# " + task + " (deployed by Intune)\n$ErrorActionPreference = 'Stop'\n" +
			"Write-Output \"Running " + task + " on $env:COMPUTERNAME\"\n" +
			"New-Item -Path 'HKLM:\\SOFTWARE\\Contoso\\Intune' -Force | Out-Null\n" +
			"Set-ItemProperty -Path 'HKLM:\\SOFTWARE\\Contoso\\Intune' -Name '" + task + "' -Value " + fmt.Sprint(1+g.r.IntN(9)) + "\n"
		return map[string]any{
			"@odata.type":           "#microsoft.graph.deviceManagementScript",
			"displayName":           g.policyName("windows", "PS "+task),
			"scriptContent":         b64(script),
			"runAsAccount":          pick(g, []string{"system", "user"}),
			"enforceSignatureCheck": false,
			"fileName":              task + ".ps1",
			"runAs32Bit":            false,
		}, nil
	},
	"deviceShellScript": func(g *gen, n int) (map[string]any, func() map[string]any) {
		task := pick(g, []string{"install-rosetta", "set-hostname", "configure-dock", "enable-firewall", "install-fonts"})
		script := "#!/bin/bash\n# " + task + " (deployed by Intune)\nset -euo pipefail\n" +
			"echo \"Running " + task + " on $(scutil --get ComputerName)\"\n" +
			"defaults write /Library/Preferences/com.contoso.intune " + task + " -int " + fmt.Sprint(1+g.r.IntN(9)) + "\n"
		return map[string]any{
			"@odata.type":                 "#microsoft.graph.deviceShellScript",
			"displayName":                 g.policyName("macOS", "SH "+task),
			"scriptContent":               b64(script),
			"runAsAccount":                pick(g, []string{"system", "user"}),
			"fileName":                    task + ".sh",
			"executionFrequency":          pick(g, []string{"PT0S", "PT1H", "P1D"}),
			"retryCount":                  float64(3),
			"blockExecutionNotifications": true,
		}, nil
	},
	"deviceHealthScript": func(g *gen, n int) (map[string]any, func() map[string]any) {
		check := pick(g, []string{"Stale temp files", "Print spooler stopped", "Outdated Teams cache", "Disk space low", "Time sync drift"})
		detect := "# Detect: " + check + "\ntry {\n    $issue = $false\n    if ($issue) { Write-Output 'Issue found'; exit 1 }\n    Write-Output 'Healthy'; exit 0\n} catch { Write-Error $_; exit 1 }\n"
		fix := "# Remediate: " + check + "\ntry {\n    Write-Output 'Remediated'\n    exit 0\n} catch { Write-Error $_; exit 1 }\n"
		schedule := func() map[string]any {
			if g.chance(0.5) {
				return map[string]any{"@odata.type": "#microsoft.graph.deviceHealthScriptDailySchedule", "interval": float64(1), "useUtc": false, "time": "09:00:00.0000000"}
			}
			return map[string]any{"@odata.type": "#microsoft.graph.deviceHealthScriptHourlySchedule", "interval": float64(pick(g, []int{1, 4, 8}))}
		}
		return map[string]any{
				"@odata.type":                 "#microsoft.graph.deviceHealthScript",
				"displayName":                 g.policyName("windows", "PR "+check),
				"publisher":                   "Contoso IT",
				"runAsAccount":                "system",
				"enforceSignatureCheck":       false,
				"runAs32Bit":                  false,
				"detectionScriptContent":      b64(detect),
				"remediationScriptContent":    b64(fix),
				"detectionScriptParameters":   []any{},
				"remediationScriptParameters": []any{},
			}, func() map[string]any {
				return map[string]any{"runRemediationScript": true, "runSchedule": schedule()}
			}
	},
	"autopilotDeploymentProfile": func(g *gen, n int) (map[string]any, func() map[string]any) {
		obj := map[string]any{
			"language":            "os-default",
			"deviceType":          "windowsPc",
			"enableWhiteGlove":    g.chance(0.5),
			"extractHardwareHash": g.chance(0.3),
			"outOfBoxExperienceSettings": map[string]any{
				"hidePrivacySettings": true, "hideEULA": true, "userType": pick(g, []string{"standard", "administrator"}),
				"deviceUsageType": "singleUser", "skipKeyboardSelectionPage": true, "hideEscapeLink": true,
			},
		}
		if n%2 == 0 {
			obj["@odata.type"] = "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"
			obj["displayName"] = g.policyName("windows", "Autopilot Entra join")
			obj["deviceNameTemplate"] = pick(g, []string{"CTSO-%SERIAL%", "LAP-%RAND:6%", "WKS-%SERIAL%"})
		} else {
			obj["@odata.type"] = "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"
			obj["displayName"] = g.policyName("windows", "Autopilot hybrid join")
			obj["hybridAzureADJoinSkipConnectivityCheck"] = g.chance(0.5)
		}
		return obj, nil
	},
	"enrollmentConfiguration": func(g *gen, n int) (map[string]any, func() map[string]any) {
		switch n % 4 {
		case 0:
			return map[string]any{
				"@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration",
				"displayName": g.policyName("all", "Enrollment limit"),
				"limit":       float64(5 + g.r.IntN(11)),
			}, nil
		case 1:
			return map[string]any{
				"@odata.type":                             "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
				"displayName":                             g.policyName("windows", "Enrollment Status Page"),
				"showInstallationProgress":                true,
				"blockDeviceSetupRetryByUser":             false,
				"allowDeviceResetOnInstallFailure":        true,
				"allowLogCollectionOnInstallFailure":      true,
				"customErrorMessage":                      "Setup could not finish. Contact the service desk at extension 4357.",
				"installProgressTimeoutInMinutes":         float64(pick(g, []int{60, 90, 120})),
				"allowDeviceUseOnInstallFailure":          false,
				"trackInstallProgressForAutopilotOnly":    true,
				"disableUserStatusTrackingAfterFirstUser": true,
			}, nil
		case 2:
			platform := pick(g, []string{"windows", "ios", "android", "mac"})
			return map[string]any{
				"@odata.type":  "#microsoft.graph.deviceEnrollmentPlatformRestrictionConfiguration",
				"displayName":  g.policyName("all", "Platform restriction "+platform),
				"platformType": platform,
				"platformRestriction": map[string]any{
					"platformBlocked": false, "personalDeviceEnrollmentBlocked": g.chance(0.7),
					"osMinimumVersion": nil, "osMaximumVersion": nil, "blockedManufacturers": []any{}, "blockedSkus": []any{},
				},
			}, nil
		}
		return map[string]any{
			"@odata.type":                 "#microsoft.graph.deviceEnrollmentWindowsHelloForBusinessConfiguration",
			"displayName":                 g.policyName("windows", "Windows Hello for Business"),
			"state":                       "enabled",
			"pinMinimumLength":            float64(pick(g, []int{4, 6, 8})),
			"pinMaximumLength":            float64(127),
			"pinUppercaseCharactersUsage": "allowed",
			"pinLowercaseCharactersUsage": "allowed",
			"pinSpecialCharactersUsage":   "allowed",
			"securityDeviceRequired":      g.chance(0.5),
			"unlockWithBiometricsEnabled": true,
			"remotePassportEnabled":       false,
			"pinPreviousBlockCount":       float64(0),
			"pinExpirationInDays":         float64(0),
			"enhancedBiometricsState":     "notConfigured",
			"securityKeyForSignIn":        "notConfigured",
			"enhancedSignInSecurity":      float64(0),
		}, nil
	},
	"appProtectionPolicy": func(g *gen, n int) (map[string]any, func() map[string]any) {
		obj := map[string]any{
			"periodOfflineBeforeAccessCheck":          "PT12H",
			"periodOnlineBeforeAccessCheck":           "PT30M",
			"allowedInboundDataTransferSources":       "managedApps",
			"allowedOutboundDataTransferDestinations": "managedApps",
			"allowedOutboundClipboardSharingLevel":    pick(g, []string{"managedAppsWithPasteIn", "managedApps", "blocked"}),
			"organizationalCredentialsRequired":       false,
			"dataBackupBlocked":                       true,
			"deviceComplianceRequired":                true,
			"saveAsBlocked":                           true,
			"periodOfflineBeforeWipeIsEnforced":       "P90D",
			"pinRequired":                             true,
			"maximumPinRetries":                       float64(5),
			"simplePinBlocked":                        false,
			"minimumPinLength":                        float64(pick(g, []int{4, 6})),
			"pinCharacterSet":                         "numeric",
			"periodBeforePinReset":                    "PT0S",
			"allowedDataStorageLocations":             []any{"oneDriveForBusiness", "sharePoint"},
			"contactSyncBlocked":                      false,
			"printBlocked":                            g.chance(0.5),
			"fingerprintBlocked":                      false,
			"disableAppPinIfDevicePinIsSet":           false,
		}
		if n%2 == 0 {
			obj["@odata.type"] = "#microsoft.graph.iosManagedAppProtection"
			obj["displayName"] = g.policyName("iOS", "App protection")
			obj["appDataEncryptionType"] = "whenDeviceLocked"
			obj["faceIdBlocked"] = false
			obj["minimumRequiredOsVersion"] = "16.0"
		} else {
			obj["@odata.type"] = "#microsoft.graph.androidManagedAppProtection"
			obj["displayName"] = g.policyName("android", "App protection")
			obj["screenCaptureBlocked"] = true
			obj["encryptAppData"] = true
			obj["disableAppEncryptionIfDeviceEncryptionIsEnabled"] = false
			obj["minimumRequiredOsVersion"] = "11.0"
		}
		return obj, nil
	},
}

// stampItems gives related items (and their nested collections) the ids
// and timestamps Graph would have set, from the seed, so that a seed always
// makes the same tenant.
func (g *gen) stampItems(items []any, r intune.Relation, modified string) {
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		m["id"] = g.guid()
		for _, k := range []string{"createdDateTime", "lastModifiedDateTime"} {
			if slices.Contains(r.ReadOnly, k) {
				m[k] = modified
			}
		}
		for _, n := range r.Nested {
			sub, _ := m[n.Name].([]any)
			g.stampItems(sub, n, modified)
		}
	}
}

// admxDefinition is an administrative template setting. Its id is the same
// in every tenant, as Graph's built-in definitions are.
type admxDefinition struct {
	id, name, class, category string
	presentation              func(g *gen) map[string]any
}

var admxDefinitions = []admxDefinition{
	{id: "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4a01", name: "Turn off Autoplay", class: "machine", category: `\Windows Components\AutoPlay Policies`,
		presentation: func(g *gen) map[string]any {
			return map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueText", "value": pick(g, []string{"All drives", "CD-ROM and removable media drives"}),
				"presentation": map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationDropdownList", "id": "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4b01", "label": "Turn off Autoplay on:"}}
		}},
	{id: "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4a02", name: "Set a default associations configuration file", class: "machine", category: `\Windows Components\File Explorer`,
		presentation: func(g *gen) map[string]any {
			return map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueText", "value": `\\contoso.example\policies\DefaultAssociations.xml`,
				"presentation": map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationTextBox", "id": "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4b02", "label": "Default Associations Configuration File"}}
		}},
	{id: "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4a03", name: "Configure Automatic Updates", class: "machine", category: `\Windows Components\Windows Update\Manage end user experience`,
		presentation: func(g *gen) map[string]any {
			return map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueDecimal", "value": float64(pick(g, []int{2, 3, 4})),
				"presentation": map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationDecimalTextBox", "id": "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4b03", "label": "Configure automatic updating:"}}
		}},
	{id: "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4a04", name: "Prevent access to the command prompt", class: "user", category: `\System`},
	{id: "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4a05", name: "Remove Recycle Bin icon from desktop", class: "user", category: `\Desktop`},
	{id: "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4a06", name: "Allow Microsoft Edge to pre-launch at Windows startup", class: "machine", category: `\Microsoft Edge`,
		presentation: func(g *gen) map[string]any {
			return map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueBoolean", "value": g.chance(0.5),
				"presentation": map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationCheckBox", "id": "7e3f4b0a-2c1d-4e5f-8a9b-0c1d2e3f4b06", "label": "Prevent pre-launching"}}
		}},
}
