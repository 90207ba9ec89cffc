"""Images from an OCI distribution registry (Docker Hub, ECR, GHCR, Harbor, a local
``registry``): references, auth, the HTTP client and the blob cache.

``image.py`` turns a registry image into the container the readers read (a
lazily fetched OCI layout); the rest knows nothing about layers or tars.
"""
