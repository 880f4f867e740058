"""Delivery of app versions to clusters: promote, roll back, and the facts both rest on.

Pure decisions sit apart from I/O so they are tested without a network:

    versions    app identity, version and rollout state of a Deployment; image references
    rules       which versions a config allows (regex / semver range)
    yamledit    one scalar of a YAML file changed in place, every other byte kept
    layouts     the GitOps layouts (HelmRelease chart version, kustomize images, Deployment image)
    settings    `releases:` settings (repositories, apps, clusters); not wired into opsbot.config yet
    targets     path templates and per-app / per-cluster overrides → a FieldTarget
    changes     a ReleaseChange and its commit message with Opsbot-* trailers (and back)
    undo        `kubectl rollout undo` computed from a Deployment and its ReplicaSets
    landing     has Flux applied a commit / a chart version (Kustomization, HelmRelease)
    errors      the error tree

I/O, each behind one small module the pure ones never import:

    git         GitRepository: one local clone per repository (dulwich), edit → commit → push
    gitssh      SSH for dulwich over paramiko (no `ssh` program started)
    credentials Secret and GitCredentials, read once from the environment or mounted files
    direct      promote / roll back through a KubePort, for clusters without GitOps
"""
