FROM scratch
ADD missing.tar.gz /
