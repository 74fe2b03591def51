// Package ent is the generated data layer; the schemas live in ./schema.
package ent

//go:generate go run -mod=mod entc.go
