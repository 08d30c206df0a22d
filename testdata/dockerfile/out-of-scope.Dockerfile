FROM debian:bookworm AS base
RUN apt-get update
FROM scratch
ADD rootfs.tar.gz /
RUN echo hi
CMD ["bash"]
