#ifdef __cplusplus
extern "C" {
#endif
int captune_get_num_threads(void);
void captune_set_num_threads(int n);
void captune_manual_seed(long long seed);
const char *captune_torch_version(void);
int captune_cxx11_abi(void);
int captune_autocast_enter(int cuda, int bf16);
void captune_autocast_exit(int cuda, int prev);
int captune_autocast_enabled(int cuda);
char *captune_set_dtype(void *t, int dtype);
#ifdef __cplusplus
}
#endif
