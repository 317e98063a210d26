/* Preset networks: expanded by lua/swap/models.lua, the one place they are written. */
#include "config/presets.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/err.h"

/* In a protected call: stack holds lua dir, name, spec. Leaves the JSON text on the stack. */
static int expand(lua_State *L) {
    const char *luadir = lua_tostring(L, 1), *name = lua_tostring(L, 2);
    const ModelSpec *s = lua_touserdata(L, 3);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", luadir, luadir);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_getglobal(L, "require");
    lua_pushstring(L, "swap.models");
    lua_call(L, 1, 1);
    const int mod = lua_gettop(L);
    lua_getfield(L, mod, "json");
    lua_getfield(L, mod, "resolve");
    lua_pushstring(L, name);
    lua_pushinteger(L, s->width);
    lua_createtable(L, 3, 1); /* { c, h, w, classes = k } */
    lua_pushinteger(L, s->in_c);
    lua_seti(L, -2, 1);
    lua_pushinteger(L, s->in_h);
    lua_seti(L, -2, 2);
    lua_pushinteger(L, s->in_w);
    lua_seti(L, -2, 3);
    lua_pushinteger(L, s->classes);
    lua_setfield(L, -2, "classes");
    lua_call(L, 3, 1);
    lua_call(L, 1, 1);
    return 1;
}

char *preset_json(const char *name, const ModelSpec *spec, char *err, size_t errcap) {
    char luadir[4096];
    config_lua_dir(luadir, sizeof luadir);
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_pushcfunction(L, expand);
    lua_pushstring(L, luadir);
    lua_pushstring(L, name);
    lua_pushlightuserdata(L, (void *)spec);
    char *out = NULL;
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        snprintf(err, errcap, "%s", msg ? msg : "unknown Lua error");
        char *nl = strchr(err, '\n');
        if (nl) *nl = '\0';
    } else {
        out = xStrdup(lua_tostring(L, -1));
    }
    lua_close(L);
    return out;
}

Model *model_create_json(const char *json, const ModelSpec *spec) {
    char err[1024];
    Model *m = model_build(json, spec, 0, err, sizeof err);
    if (!m) swap_fail("%s", err);
    return m;
}

Model *model_create(const char *name, const ModelSpec *spec) {
    char err[1024];
    char *json = preset_json(name, spec, err, sizeof err);
    if (!json) swap_fail("%s", err);
    Model *m = model_build(json, spec, 0, err, sizeof err);
    free(json);
    if (!m) swap_fail("%s", err);
    return m;
}
