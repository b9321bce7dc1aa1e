package api

// routes registers the /v1 API. Writes and poll are leader-only; GETs are
// answered from the local replica unless ?consistent=true. /v1/health,
// /v1/ready and /v1/cluster/self describe this master and are never
// redirected.
func (s *Server) routes() {
	e := s.e
	read := []echoMiddleware{s.consistentRead, s.readIndex}
	write := []echoMiddleware{s.leaderOnly, s.writeIndex}

	e.POST("/v1/tasks", s.handleSubmit, write...)
	e.POST("/v1/tasks/batch", s.handleSubmitBatch, write...)
	e.GET("/v1/tasks", s.handleListTasks, read...)
	e.GET("/v1/tasks/:id", s.handleGetTask, read...)
	e.POST("/v1/tasks/:id/cancel", s.handleCancel, write...)
	e.POST("/v1/tasks/:id/complete", s.handleComplete, write...)
	e.POST("/v1/tasks/:id/fail", s.handleFail, write...)

	e.POST("/v1/workers", s.handleRegisterWorker, write...)
	e.GET("/v1/workers", s.handleListWorkers, read...)
	e.GET("/v1/workers/:id", s.handleGetWorker, read...)
	e.POST("/v1/workers/:id/heartbeat", s.handleHeartbeat, write...)
	e.POST("/v1/workers/:id/poll", s.handlePoll, write...)
	e.POST("/v1/workers/:id/drain", s.handleDrain, write...)

	s.semanticsRoutes(read, write)

	e.GET("/v1/cluster", s.handleClusterStatus, read...)
	e.POST("/v1/cluster/join", s.handleJoin, s.leaderOnly)
	e.DELETE("/v1/cluster/servers/:id", s.handleRemoveServer, s.leaderOnly)
	e.POST("/v1/cluster/transfer-leadership", s.handleTransferLeadership, s.leaderOnly)
	e.GET("/v1/cluster/snapshot", s.handleSnapshot, s.leaderOnly)
	e.POST("/v1/cluster/restore", s.handleRestore, s.leaderOnly)
	e.GET("/v1/cluster/self", s.handleSelf)
	e.GET("/v1/health", s.handleHealth)
	e.GET("/v1/ready", s.handleReady)

	// Node-local fault injection (api/faults.go): never redirected.
	e.POST("/v1/faults", s.handleAddFault)
	e.GET("/v1/faults", s.handleListFaults)
	e.DELETE("/v1/faults", s.handleClearFaults)
	e.DELETE("/v1/faults/:id", s.handleRemoveFault)
}
