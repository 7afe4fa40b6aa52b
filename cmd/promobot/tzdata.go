package main

// Time zones are compiled into the binary: the container image (FROM
// scratch) has no /usr/share/zoneinfo, and .promobot.yaml's freeze windows
// name IANA time zones.
import _ "time/tzdata"
