FROM scratch AS rootfs
ADD rootfs.tar.gz /
FROM scratch AS unused
COPY --from=rootfs / /x
FROM scratch
COPY --from=rootfs --chown=0:0 /etc/os-release /etc/
COPY --from=0 / /
