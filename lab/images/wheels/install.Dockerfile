# The first stage of every image lab/images/wheels/build.sh builds (the image's own Dockerfile, its final stage,
# follows it): a virtual environment at VENV with the pinned wheels of the image's requirements.txt. wheels/ holds
# them, downloaded on the build machine (pip inside containers cannot reach the index here); pip.whl runs pip from
# its wheel (Debian's python3 has no ensurepip).
ARG BASE_IMAGE
ARG VENV
FROM ${BASE_IMAGE} AS install
ARG VENV
COPY wheels/ /tmp/wheels/
COPY requirements.txt pip.whl /tmp/
RUN set -eux; \
    python3 -m venv --without-pip "$VENV"; \
    python3 /tmp/pip.whl/pip --python "$VENV/bin/python" install --quiet --no-index --no-cache-dir \
      --no-deps --find-links /tmp/wheels --requirement /tmp/requirements.txt; \
    python3 /tmp/pip.whl/pip --python "$VENV/bin/python" check

