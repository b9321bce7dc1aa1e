package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/shepherd/shepherd/fsm"
)

// Recover rewrites the Raft configuration of a stopped master's data dir
// to the servers listed in peersFile (hashicorp/raft's peers.json:
// [{"id": "m1", "address": "10.0.0.1:7201", "non_voter": false}]). It is
// the way out when a quorum is lost for good: run it on every surviving
// master with the same file, then start them; they elect among
// themselves. The state is kept: the log is replayed into a snapshot
// that carries the new configuration.
//
// It refuses a data dir without state or one that a running master holds
// open. Entries committed by the lost majority but never replicated to a
// survivor are lost; pick the survivor with the highest index when in
// doubt.
func Recover(dataDir, peersFile string, logger hclog.Logger) (raft.Configuration, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	conf, err := raft.ReadConfigJSON(peersFile)
	if err != nil {
		return conf, fmt.Errorf("recover: read %s: %w", peersFile, err)
	}
	dir := filepath.Join(dataDir, "raft")
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); err != nil {
		return conf, fmt.Errorf("recover: no raft state in %s: %w", dataDir, err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second}})
	if err != nil {
		return conf, fmt.Errorf("recover: open raft store (is the master still running?): %w", err)
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, logger)
	if err != nil {
		return conf, fmt.Errorf("recover: open snapshot store: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = conf.Servers[0].ID // only validated; recovery writes no id
	rc.Logger = logger
	_, trans := raft.NewInmemTransport("")
	if err := raft.RecoverCluster(rc, fsm.New(logger), store, store, snaps, trans, conf); err != nil {
		return conf, fmt.Errorf("recover: %w", err)
	}
	return conf, nil
}
