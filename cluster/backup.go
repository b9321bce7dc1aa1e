package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shepherd/shepherd/fsm"
)

// Backup file format: one JSON header line (BackupInfo), then Size bytes
// of the state machine's own snapshot encoding, whose SHA-256 the header
// carries. The body is exactly what Raft stores as a snapshot, so a
// restore hands it to raft.Restore unchanged.
const (
	BackupFormat  = "shepherd-backup"
	BackupVersion = 1
	// maxBackupHeader bounds the header line a restore reads.
	maxBackupHeader = 64 << 10
)

// Errors of backup and restore.
var (
	// ErrBadBackup: the file is not a Shepherd backup, is truncated, or
	// its checksum does not match. Nothing was changed.
	ErrBadBackup = errors.New("not a valid backup")
)

// BackupInfo is the header of a backup file.
type BackupInfo struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Node      string    `json:"node"`
	Index     uint64    `json:"index"` // the Raft index the state reflects
	Term      uint64    `json:"term"`
	CreatedAt time.Time `json:"created_at"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
}

// Backup is an open backup: read the header line and the body from it,
// then Close it to release its temporary file.
type Backup struct {
	Info BackupInfo
	io.Reader
	file *os.File
}

// Close removes the backup's temporary file.
func (b *Backup) Close() error {
	if b.file == nil {
		return nil
	}
	name := b.file.Name()
	err := b.file.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// Len is the size of the whole backup file, header line included.
func (b *Backup) Len() int64 {
	hdr, _ := json.Marshal(b.Info)
	return int64(len(hdr)) + 1 + b.Info.Size
}

// OpenBackup takes a consistent backup on the leader: it waits until the
// whole committed log is applied (Barrier), then encodes a point-in-time
// copy of the state into a temporary file in the data dir, so that a
// slow download never holds up Apply.
func (n *Node) OpenBackup(ctx context.Context) (*Backup, error) {
	if !n.IsLeader() {
		return nil, fmt.Errorf("backup: %w", n.notLeaderErr())
	}
	if err := n.raft.Barrier(ctxTimeout(ctx, time.Minute)).Error(); err != nil {
		return nil, translate("backup: barrier", err)
	}
	snap, err := n.fsm.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("backup: snapshot: %w", err)
	}
	defer snap.Release()
	enc, ok := snap.(interface{ Encode(io.Writer) error })
	if !ok {
		return nil, fmt.Errorf("backup: snapshot %T cannot encode itself", snap)
	}
	f, err := os.CreateTemp(n.cfg.DataDir, "backup-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	b := &Backup{file: f}
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	if err := enc.Encode(cw); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("backup: encode: %w", err)
	}
	index, err := snapshotIndex(f)
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("backup: %w", err)
	}
	b.Info = BackupInfo{Format: BackupFormat, Version: BackupVersion, Node: n.cfg.ID, Index: index,
		Term: n.raft.CurrentTerm(), CreatedAt: time.Now().UTC(), Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))}
	hdr, err := json.Marshal(b.Info)
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	b.Reader = io.MultiReader(bytes.NewReader(append(hdr, '\n')), f)
	return b, nil
}

// snapshotIndex reads the applied index from the snapshot's own header
// line and rewinds f to its start.
func snapshotIndex(f *os.File) (uint64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	var h struct {
		Applied uint64 `json:"applied"`
	}
	if err := json.NewDecoder(bufio.NewReader(f)).Decode(&h); err != nil {
		return 0, fmt.Errorf("read snapshot header: %w", err)
	}
	_, err := f.Seek(0, io.SeekStart)
	return h.Applied, err
}

// ReadBackupHeader reads and checks the header line of a backup.
func ReadBackupHeader(r *bufio.Reader) (BackupInfo, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%w: read header: %v", ErrBadBackup, err)
	}
	var info BackupInfo
	if err := json.Unmarshal(line, &info); err != nil {
		return BackupInfo{}, fmt.Errorf("%w: header: %v", ErrBadBackup, err)
	}
	switch {
	case info.Format != BackupFormat:
		return info, fmt.Errorf("%w: format %q, want %q", ErrBadBackup, info.Format, BackupFormat)
	case info.Version != BackupVersion:
		return info, fmt.Errorf("%w: version %d, want %d", ErrBadBackup, info.Version, BackupVersion)
	case info.Size <= 0 || len(info.SHA256) != 2*sha256.Size:
		return info, fmt.Errorf("%w: header lacks size or sha256", ErrBadBackup)
	}
	return info, nil
}

// Restore replaces the replicated state with a backup, through Raft: the
// leader installs it as a snapshot and every replica converges on it. The
// backup is checked completely (checksum, and decoded once) before
// anything changes. Writes in flight fail with ErrLeadershipLost (outcome
// unknown). Meant for disaster recovery, into a fresh or stopped-traffic
// cluster.
func (n *Node) Restore(ctx context.Context, r io.Reader) (BackupInfo, error) {
	if !n.IsLeader() {
		return BackupInfo{}, fmt.Errorf("restore: %w", n.notLeaderErr())
	}
	f, info, err := n.spoolBackup(r)
	if err != nil {
		return info, err
	}
	defer func() { name := f.Name(); _ = f.Close(); _ = os.Remove(name) }()
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: info.Size}
	n.logger.Info("restoring backup", "from-node", info.Node, "index", info.Index, "bytes", info.Size)
	if err := n.raft.Restore(meta, f, ctxTimeout(ctx, 5*time.Minute)); err != nil {
		return info, translate("restore", err)
	}
	n.afterRestore(ctx)
	return info, nil
}

// spoolBackup copies a backup into a temporary file, verifying its size
// and checksum, and decodes it into a scratch FSM so that Raft is never
// handed a snapshot it would panic on. The file is rewound to the body.
func (n *Node) spoolBackup(r io.Reader) (*os.File, BackupInfo, error) {
	br := bufio.NewReaderSize(r, maxBackupHeader)
	info, err := ReadBackupHeader(br)
	if err != nil {
		return nil, info, kind(fmt.Errorf("restore: %w", err), fsm.ErrInvalid)
	}
	f, err := os.CreateTemp(n.cfg.DataDir, "restore-*.tmp")
	if err != nil {
		return nil, info, fmt.Errorf("restore: %w", err)
	}
	fail := func(err error) (*os.File, BackupInfo, error) {
		name := f.Name()
		_ = f.Close()
		_ = os.Remove(name)
		return nil, info, err
	}
	h := sha256.New()
	got, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(br, info.Size+1))
	if err != nil {
		return fail(fmt.Errorf("restore: read body: %w", err))
	}
	if got != info.Size {
		return fail(kind(fmt.Errorf("restore: %w: body is %d bytes, header says %d", ErrBadBackup, got, info.Size), fsm.ErrInvalid))
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != info.SHA256 {
		return fail(kind(fmt.Errorf("restore: %w: sha256 %s, header says %s", ErrBadBackup, sum, info.SHA256), fsm.ErrInvalid))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	if err := fsm.New(nil).Restore(io.NopCloser(f)); err != nil {
		return fail(kind(fmt.Errorf("restore: %w: %v", ErrBadBackup, err), fsm.ErrInvalid))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return f, info, nil
}

// afterRestore brings the leader-only view in line with the restored
// state: the server table is the backup's (maybe another cluster's), so
// entries outside the Raft configuration go and this leader registers
// itself (the others re-register on their own); restored workers get a
// fresh heartbeat TTL.
func (n *Node) afterRestore(ctx context.Context) {
	if ls := n.leader(); ls != nil {
		ls.liveness.reset(n.fsm.Workers(), time.Now().UTC())
	}
	fut := n.raft.GetConfiguration()
	if fut.Error() != nil {
		return
	}
	conf := fut.Configuration()
	for id := range n.fsm.Servers() {
		if !hasServer(conf, id) {
			if _, err := n.applyChecked(ctx, fsm.RemoveServer{ID: id}); err != nil {
				n.logger.Warn("could not forget server after restore", "id", id, "error", err)
			}
		}
	}
	self := fsm.Server{ID: n.cfg.ID, RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAddr}
	if _, err := n.applyChecked(ctx, fsm.RegisterServer{Server: self}); err != nil {
		n.logger.Warn("could not register after restore", "error", err)
	}
}

// ctxTimeout is the time left until ctx's deadline, or def without one.
func ctxTimeout(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return def
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
