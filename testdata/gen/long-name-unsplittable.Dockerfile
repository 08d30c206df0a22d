FROM scratch
ADD long-name-unsplittable.tar /
CMD ["/bin/sh"]
