package environments_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restored/restored/internal/domain/environments"
)

func TestPermissionReport(t *testing.T) {
	allRead := []string{"DeviceManagementConfiguration.Read.All", "DeviceManagementServiceConfig.Read.All", "DeviceManagementRBAC.Read.All", "DeviceManagementApps.Read.All", "Group.Read.All"}
	allWrite := []string{"DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementServiceConfig.ReadWrite.All", "DeviceManagementRBAC.ReadWrite.All", "DeviceManagementApps.ReadWrite.All"}
	tests := []struct {
		name    string
		granted []string
		want    environments.Report
	}{
		{
			name:    "everything (graphsim's default)",
			granted: append(allWrite, "Group.Read.All"),
			want: environments.Report{
				CanRead: true, CanWrite: true,
				Summary: "All permissions for inventory, capture and restore are granted.",
			},
		},
		{
			name:    "read only",
			granted: allRead,
			want: environments.Report{
				MissingForWrite: allWrite,
				CanRead:         true,
				Summary:         "Inventory and capture have every permission they need. Restore is blocked: missing DeviceManagementConfiguration.ReadWrite.All, DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementRBAC.ReadWrite.All, DeviceManagementApps.ReadWrite.All.",
			},
		},
		{
			name: "apps read and configuration write missing",
			granted: []string{"DeviceManagementConfiguration.Read.All", "DeviceManagementServiceConfig.ReadWrite.All",
				"DeviceManagementRBAC.ReadWrite.All", "Group.Read.All"},
			want: environments.Report{
				MissingForRead:  []string{"DeviceManagementApps.Read.All"},
				MissingForWrite: []string{"DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementApps.ReadWrite.All"},
				Summary:         "Inventory and capture may be partial: missing DeviceManagementApps.Read.All. Restore is blocked: missing DeviceManagementConfiguration.ReadWrite.All, DeviceManagementApps.ReadWrite.All.",
			},
		},
		{
			name:    "writes without groups",
			granted: allWrite,
			want: environments.Report{
				MissingForRead:  []string{"Group.Read.All"},
				MissingForWrite: []string{"Group.Read.All"},
				Summary:         "Inventory and capture may be partial: missing Group.Read.All. Restore is blocked: missing Group.Read.All.",
			},
		},
		{
			name:    "Directory.Read.All covers groups; names are case-insensitive",
			granted: []string{"deviceManagementConfiguration.readWrite.all", "DeviceManagementServiceConfig.ReadWrite.All", "DeviceManagementRBAC.ReadWrite.All", "DeviceManagementApps.ReadWrite.All", "Directory.Read.All"},
			want: environments.Report{
				CanRead: true, CanWrite: true,
				Summary: "All permissions for inventory, capture and restore are granted.",
			},
		},
		{
			name:    "nothing granted",
			granted: nil,
			want: environments.Report{
				MissingForRead:  allRead,
				MissingForWrite: append(append([]string(nil), allWrite...), "Group.Read.All"),
				Summary:         "Inventory and capture are blocked: missing DeviceManagementConfiguration.Read.All, DeviceManagementServiceConfig.Read.All, DeviceManagementRBAC.Read.All, DeviceManagementApps.Read.All, Group.Read.All. Restore is blocked: missing DeviceManagementConfiguration.ReadWrite.All, DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementRBAC.ReadWrite.All, DeviceManagementApps.ReadWrite.All, Group.Read.All.",
			},
		},
		{
			name:    "unrelated permissions only",
			granted: []string{"User.Read.All", "Mail.Send"},
			want: environments.Report{
				MissingForRead:  allRead,
				MissingForWrite: append(append([]string(nil), allWrite...), "Group.Read.All"),
				Summary:         "Inventory and capture are blocked: missing DeviceManagementConfiguration.Read.All, DeviceManagementServiceConfig.Read.All, DeviceManagementRBAC.Read.All, DeviceManagementApps.Read.All, Group.Read.All. Restore is blocked: missing DeviceManagementConfiguration.ReadWrite.All, DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementRBAC.ReadWrite.All, DeviceManagementApps.ReadWrite.All, Group.Read.All.",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := environments.PermissionReport(tt.granted)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PermissionReport(%v) mismatch (-want +got):\n%s", tt.granted, diff)
			}
		})
	}
}
