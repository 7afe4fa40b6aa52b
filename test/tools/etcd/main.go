// Command etcd is the upstream etcd server, built from the module proxy as the
// storage behind the test kube-apiserver.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
