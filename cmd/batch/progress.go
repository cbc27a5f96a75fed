package main

import (
	"fmt"
	"time"

	"github.com/kougaku/batch/pipeline"
)

// startProgress draws a progress line (receipts read, receipts/s, ETA) on stderr once a
// second while a person watches; on a log collector it draws nothing. It returns the stop.
func startProgress(w *console, p *pipeline.Progress) func() {
	if !isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				w.draw("")
				return
			case <-t.C:
				w.draw(progressLine(p, time.Since(start)))
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func progressLine(p *pipeline.Progress, elapsed time.Duration) string {
	read, est := p.Read.Load(), p.Estimated.Load()
	rate := float64(read) / max(elapsed.Seconds(), 1e-9)
	stage, _ := p.Stage.Load().(string)
	eta := "?"
	if rate > 0 && est > read {
		eta = time.Duration(float64(est-read) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("%-8s %s receipts read, %s/s, ETA %s", stage, group(read), group(int64(rate)), eta)
}
