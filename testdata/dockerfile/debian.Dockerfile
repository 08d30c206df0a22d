FROM scratch
ADD oci/blobs/rootfs.tar.gz /
CMD ["bash"]
