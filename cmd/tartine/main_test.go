package main

import (
	"testing"

	"tartine/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
