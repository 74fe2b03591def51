package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/config"
)

// runGraphsim serves a simulated Microsoft Graph with generated tenants until
// ctx ends: for trying restored against "tenants" without a real one, and
// for other tools' tests. It prints each tenant's Graph base URL and app
// credentials, and writes the CA certificate clients must trust.
func runGraphsim(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("graphsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address (TLS)")
	tenants := fs.String("tenants", "contoso,fabrikam", "comma-separated tenant ids to generate")
	policies := fs.Int("policies", 150, "objects generated per tenant, spread over every supported type")
	seed := fs.Int64("seed", 1, "generator seed (tenant n uses seed+n)")
	auth := fs.Bool("auth", true, "require access tokens from graphsim's token endpoint")
	caOut := fs.String("ca-out", "graphsim-ca.pem", "where to write the CA certificate clients must trust")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *policies < 0 {
		return errors.New("--policies must not be negative")
	}
	sim := graphsim.New(graphsim.Options{RequireAuth: *auth})
	url, caPEM, stop, err := graphsim.ListenTLS(*addr, sim.Handler())
	if err != nil {
		return err
	}
	defer stop()
	if err := os.WriteFile(*caOut, caPEM, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "graphsim listening on %s (CA certificate in %s)\n", url, *caOut)
	for i, id := range strings.Split(*tenants, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		t := sim.Tenant(id)
		clientID, secret := "sim-client-"+id, "sim-secret-"+id
		t.SetCredentials(clientID, secret)
		graphsim.Generate(t, graphsim.GenOptions{Seed: *seed + int64(i), Policies: *policies, Groups: 12, ScopeTags: 4, Filters: 4})
		fmt.Fprintf(stdout, "  tenant %-12s graph %s  client id %s  client secret %s\n", id, graphsim.BaseURL(url, id), clientID, secret)
	}
	fmt.Fprintln(stdout, "point restored at it with --graphsim-url "+url+" --graphsim-ca-file "+*caOut)
	<-ctx.Done()
	return nil
}
