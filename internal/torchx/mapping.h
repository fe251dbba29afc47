#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
void *captune_mapping_new(int fd, size_t len, int *err);
void captune_mapping_release(void *m);
const void *captune_mapping_addr(void *m);
long long captune_mappings_live(void);
void *captune_mapping_tensor(void *m, size_t offset, int64_t *dims, size_t ndims, int scalar_type, char **err);
int captune_own_data(void *tensor, char **err);
int captune_shares_mapping(void *tensor);
#ifdef __cplusplus
}
#endif
