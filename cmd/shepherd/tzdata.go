package main

// Schedules name IANA time zones; the scratch image has no zoneinfo.
import _ "time/tzdata"
