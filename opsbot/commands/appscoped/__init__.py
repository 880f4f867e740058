"""App-scoped commands: people name their app, not a pod's generated name.

    target.py     which app a command means (its argument, else the scope's), finding it
                  (a Deployment from the watch cache, else a StatefulSet or DaemonSet),
                  its pods, and "did you mean" when it is not there
    logs.py       the logs of an app's pods merged by timestamp, like `kubectl logs -l … --prefix`
    describe.py   an app at a glance: workload, rollout, pods, Warning events, versions

Helpers that call the cluster declare what they call in ``KUBE``; the commands using
them list those methods in their own ``kube`` (the doctor and the manifests' RBAC
tests read them from there).
"""
