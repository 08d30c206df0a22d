FROM scratch
ARG VERSION
LABEL v="${VERSION:?must be set}"
