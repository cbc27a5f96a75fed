package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

func cmdGen(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	return errors.New("gen: not wired yet")
}
