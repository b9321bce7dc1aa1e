package main
import (
 _ "github.com/hashicorp/raft"
 _ "github.com/hashicorp/raft-boltdb/v2"
 _ "github.com/labstack/echo/v4"
 _ "github.com/gorilla/websocket"
 _ "github.com/hashicorp/go-hclog"
 _ "github.com/google/btree"
 _ "github.com/shirou/gopsutil/v4/cpu"
 _ "github.com/shirou/gopsutil/v4/mem"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "go.uber.org/goleak"
)
func main(){}
